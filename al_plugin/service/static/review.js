// The review page: draws what GET review/data says (see review.py).
// Every URL is relative to the page; with a token, the cookie set by
// "/?token=..." goes along with each request.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmt(value, digits) {
  if (value === null || value === undefined) return '-';
  const number = Number(value);
  return number !== 0 && Math.abs(number) < 1e-3 ?
    number.toExponential((digits || 3) - 1) : number.toPrecision(digits || 3);
}

function edgeDigits(low, high) {
  // enough digits that the histogram's two ends read apart
  const spread = Math.abs(high - low) / Math.max(Math.abs(high), Math.abs(low), 1e-12);
  return Math.min(8, Math.max(3, Math.ceil(-Math.log10(spread || 1)) + 2));
}

function boxesOver(pick) {
  // an SVG in the original image frame, stretched over the thumbnail
  if (!pick.size) return null;
  const [w, h] = pick.size;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  const stroke = Math.max(w, h) / 90;
  for (const box of pick.boxes) {
    const [x, y, bw, bh] = box.bbox;
    const rect = document.createElementNS(SVG, 'rect');
    Object.entries({x, y, width: bw, height: bh, 'stroke-width': stroke})
      .forEach(([k, v]) => rect.setAttribute(k, v));
    const label = document.createElementNS(SVG, 'text');
    label.setAttribute('x', x + stroke);
    label.setAttribute('y', Math.max(y - stroke, Math.max(w, h) / 12));
    label.setAttribute('font-size', Math.max(w, h) / 12);
    label.textContent = `${box.class} ${fmt(box.score, 2)}`;
    svg.append(rect, label);
  }
  return svg;
}

function drawPicks(data) {
  const grid = document.getElementById('thumbs');
  grid.replaceChildren();
  for (const pick of data.selected) {
    const figure = el('figure', {class: 'pick'});
    const frame = el('div', {class: 'frame'});
    frame.append(el('img', {src: pick.thumb, alt: pick.image, class: 'thumb'}));
    const svg = boxesOver(pick);
    if (svg) frame.append(svg);
    const caption = el('figcaption');
    caption.append(el('b', {}, `#${pick.rank}`), ` score ${fmt(pick.score)}`,
                   el('div', {}, pick.image));
    const list = el('ul');
    for (const box of pick.boxes) {
      list.append(el('li', {class: 'box'}, `${box.class}: ${fmt(box.score)}`));
    }
    if (!pick.boxes.length) list.append(el('li', {}, 'no box above score_thr'));
    caption.append(list);
    figure.append(frame, caption);
    grid.append(figure);
  }
  const skipped = data.skipped || [];
  document.getElementById('skipped').textContent = skipped.length ?
    `skipped (unreadable): ${skipped.map((s) => s.image).join(', ')}` : '';
}

function drawHistogram(histogram) {
  const canvas = document.getElementById('histogram');
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!histogram) {
    ctx.fillText('this strategy gives no per-image scores', 20, 30);
    return 0;
  }
  const pad = {left: 40, right: 10, top: 10, bottom: 34};
  const w = canvas.width - pad.left - pad.right;
  const h = canvas.height - pad.top - pad.bottom;
  const top = Math.max(...histogram.counts, 1);
  const bar = w / histogram.counts.length;
  histogram.counts.forEach((count, i) => {
    const mine = histogram.selected[i];
    const x = pad.left + i * bar;
    ctx.fillStyle = '#1f77b4';
    ctx.fillRect(x + 1, pad.top + h * (1 - count / top), bar - 2, h * count / top);
    ctx.fillStyle = '#ff7f0e';
    ctx.fillRect(x + 1, pad.top + h * (1 - mine / top), bar - 2, h * mine / top);
  });
  ctx.fillStyle = '#222';
  ctx.strokeStyle = '#222';
  ctx.strokeRect(pad.left, pad.top, w, h);
  const edges = histogram.edges;
  const digits = edgeDigits(edges[0], edges[edges.length - 1]);
  ctx.textAlign = 'left';
  ctx.fillText(fmt(edges[0], digits), pad.left, pad.top + h + 14);
  ctx.textAlign = 'right';
  ctx.fillText(fmt(edges[edges.length - 1], digits), pad.left + w, pad.top + h + 14);
  ctx.fillText(String(top), pad.left - 4, pad.top + 10);
  ctx.fillText('0', pad.left - 4, pad.top + h);
  ctx.textAlign = 'center';
  ctx.fillText('score (images per bin)', pad.left + w / 2, pad.top + h + 28);
  return histogram.counts.length;
}

function drawFiles(files) {
  const list = document.getElementById('files');
  list.replaceChildren();
  for (const [kind, url] of Object.entries(files)) {
    const item = el('li');
    item.append(el('a', {href: url}, `${kind}: ${url.replace(/^files\//, '')}`));
    list.append(item);
  }
}

function draw(data) {
  const jobs = document.getElementById('job');
  jobs.replaceChildren(...data.jobs.map((id) => el('option', {value: id}, id)));
  if (!data.job) {
    document.getElementById('summary').textContent = data.message;
    document.body.dataset.ready = 'empty';
    return;
  }
  jobs.value = data.job;
  document.getElementById('summary').textContent =
    `${data.strategy}: ${data.selected.length} of ${data.num_pool} pool images ` +
    `picked (budget ${data.budget}; ${data.num_labeled} labeled; ` +
    `model ${data.request.checkpoint}, config ${data.request.config})`;
  drawPicks(data);
  document.body.dataset.bars = drawHistogram(data.histogram);
  const map = document.getElementById('poolmap');
  if (data.pool_map) {
    map.src = data.pool_map;
    document.getElementById('mapnote').textContent =
      'left: labeled / newly selected / unlabeled; right: dominant class';
  } else {
    map.removeAttribute('src');
    document.getElementById('mapnote').textContent = 'this job has no pool map';
  }
  drawFiles(data.files);
  document.body.dataset.ready = data.job;
}

async function load(job) {
  const url = 'review/data' + (job ? `?job=${encodeURIComponent(job)}` : '');
  const answer = await fetch(url, {credentials: 'same-origin'});
  const data = await answer.json();
  if (!answer.ok) {
    document.getElementById('summary').textContent = `error ${answer.status}: ${data.detail}`;
    document.body.dataset.ready = 'error';
    return;
  }
  draw(data);
}

document.getElementById('job').addEventListener('change', (e) => load(e.target.value));
load(new URLSearchParams(location.search).get('job'));
