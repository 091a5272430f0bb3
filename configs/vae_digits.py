# Reconstruction diversity (seed docker_al_v1's `vae`) on the built-in digits
# set: the random baseline's experiment with only the strategy changed. A
# small VAE is trained on the labeled images' pooled FPN features; the pool
# images it reconstructs worst are picked.
_base_ = './random_digits.py'

custom_hooks = [
    dict(
        type='ActiveSelectionHook',
        strategy=dict(
            type='VAEReconstructionStrategy',
            hidden_dim=64,  # encoder / decoder width
            latent_dim=8,  # size of z
            num_steps=200,  # Adam steps on X_L's features
            batch_size=64,
            lr=3e-3,
            kl_weight=1.0))  # beta of the KL term
]
