# The selection service on CPU (tools/serve.py), with the package's whole
# stack (torch CPU wheel, mmcv 2.1.0 built with its ops, mmdet 3.3.0).
#   docker build -t al_plugin .
#   docker run -p 8000:8000 -e AL_SERVICE_TOKEN=change-me \
#       -v $PWD/data:/data -v $PWD/work_dirs:/work al_plugin
# Building mmcv takes about 10 minutes on 2 cores (once; a layer of its own).
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential git \
        libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# the environment first (its layer is reused while the code changes)
COPY tools/setup_env.sh tools/setup_env.sh
COPY requirements requirements
COPY setup.cfg pyproject.toml ./
COPY al_plugin/version.py al_plugin/version.py
RUN touch al_plugin/__init__.py \
    && PYTHON=python3.11 VENV=/venv AL_PLUGIN_CACHE=/cache \
        bash tools/setup_env.sh \
    && rm -rf /cache/build.*
COPY . .
RUN /venv/bin/python -m pip install --no-deps --no-build-isolation -e . \
    && /venv/bin/python -c "import al_plugin.service"

EXPOSE 8000
# Bound to all addresses inside the container: the token is required
# (set AL_SERVICE_TOKEN); requests name paths under /data, /work and the
# repository's configs/.
CMD ["/venv/bin/python", "tools/serve.py", "--host", "0.0.0.0", \
     "--port", "8000", "--data-root", "/data", "--work-dir", "/work"]
