// graphdl LiveView: the explorer's graph in a notebook widget (anywidget), redrawn while
// training runs. Python sends the SVG once, then frames (one value and grad per node);
// when training ends, "history" holds every frame and the slider scrubs them.
// Plain JavaScript, no library, nothing fetched.
const SVG_NS = "http://www.w3.org/2000/svg";
const POSITIVE = [37, 99, 235]; // #2563eb, as the explorer page
const NEGATIVE = [234, 88, 12]; // #ea580c
const POINT = /(-?\d+(?:\.\d+)?(?:e-?\d+)?),(-?\d+(?:\.\d+)?(?:e-?\d+)?)/g;

function fmt(value) {
  if (value === null || value === undefined) return "—";
  if (value === 0) return "0";
  const size = Math.abs(value);
  if (size >= 1e-4 && size < 1e6) return String(Number(value.toPrecision(4)));
  return value.toExponential(2);
}

function fillFor(value, scale) {
  const t = Math.max(-1, Math.min(1, value / scale));
  const end = t >= 0 ? POSITIVE : NEGATIVE;
  const mix = end.map((channel) => Math.round(255 + (channel - 255) * 0.75 * Math.abs(t)));
  return "rgb(" + mix.join(",") + ")";
}

function element(tag, className, parent, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  if (parent) parent.appendChild(made);
  return made;
}

// A node drawn without a gradient has no grad line: add one under its value line and
// make its outline one line taller.
function addGradLine(group) {
  const value = group.querySelector(".value-text");
  if (!value || group.querySelector(".grad-text")) return;
  const texts = Array.from(group.querySelectorAll("text"));
  const above = texts[texts.indexOf(value) - 1];
  const valueY = Number(value.getAttribute("y"));
  const gap = above ? valueY - Number(above.getAttribute("y")) : 12;
  const grad = value.cloneNode(false);
  grad.setAttribute("class", "grad-text");
  grad.setAttribute("y", String(valueY + gap));
  grad.setAttribute("fill", "#1e3a8a");
  value.after(grad);
  for (const shape of group.querySelectorAll("path, polygon, rect")) {
    if (shape.tagName === "rect") {
      shape.setAttribute("height", String(Number(shape.getAttribute("height")) + gap));
      continue;
    }
    const name = shape.tagName === "path" ? "d" : "points";
    const text = shape.getAttribute(name) || "";
    const ys = Array.from(text.matchAll(POINT), (match) => Number(match[2]));
    const middle = (Math.min(...ys) + Math.max(...ys)) / 2;
    shape.setAttribute(name, text.replace(POINT, (_, x, y) => x + "," + (Number(y) > middle ? Number(y) + gap : y)));
  }
}

function render({ model, el }) {
  const root = element("div", "graphdl-live", el);
  const title = element("div", "gl-title", root);
  const status = element("div", "gl-status", root);
  const controls = element("div", "gl-controls", root);
  const slider = element("input", "gl-step", controls);
  slider.type = "range";
  slider.min = "0";
  slider.step = "1";
  slider.setAttribute("aria-label", "training step");
  const stepLabel = element("span", "gl-step-label", controls);
  const body = element("div", "gl-body", root);
  const graphBox = element("div", "gl-graph", body);
  const side = element("div", "gl-side", body);
  const panel = element("div", "gl-panel", side);
  const lossBox = element("div", "gl-loss", side);
  const note = element("p", "gl-note", root);

  const state = { frames: [], losses: [], seq: 0, running: true, frame: -1, follow: true, selected: null, pinned: false };
  let groups = [];
  let edges = [];

  function buildGraph() {
    graphBox.innerHTML = model.get("svg"); // graphdl's own SVG: every name escaped by ElementTree
    const svg = graphBox.querySelector("svg");
    if (svg) svg.removeAttribute("width"), svg.removeAttribute("height");
    groups = Array.from(graphBox.querySelectorAll("g.node[data-index]")).map((group) => {
      addGradLine(group);
      const index = Number(group.dataset.index);
      group.setAttribute("tabindex", "0");
      group.addEventListener("mouseenter", () => state.pinned || select(index));
      group.addEventListener("click", () => {
        state.pinned = !(state.pinned && state.selected === index);
        select(index);
      });
      const shape = group.querySelector(".shape");
      return {
        group, index, shape, roleFill: shape ? shape.getAttribute("fill") : null,
        value: group.querySelector(".value-text"), grad: group.querySelector(".grad-text"),
      };
    });
    edges = Array.from(graphBox.querySelectorAll("g.edge[data-carrier]")).map((edge) => ({
      carrier: Number(edge.dataset.carrier), parts: Array.from(edge.querySelectorAll("path, polygon")),
    }));
  }

  function scaleOf(key, indices) {
    let scale = 1e-12;
    for (const frame of state.frames) {
      for (const index of indices) {
        const value = frame[key][index];
        if (value !== null && Number.isFinite(value)) scale = Math.max(scale, Math.abs(value));
      }
    }
    return scale;
  }

  function drawGraph(frame) {
    const valueScale = scaleOf("value", groups.map((g) => g.index));
    const weightScale = scaleOf("value", edges.map((e) => e.carrier));
    for (const item of groups) {
      const value = frame ? frame.value[item.index] : null;
      if (item.shape) item.shape.setAttribute("fill", value === null ? item.roleFill : fillFor(value, valueScale));
      if (item.value) item.value.textContent = "value " + fmt(value);
      if (item.grad) item.grad.textContent = "grad " + fmt(frame ? frame.grad[item.index] : null);
    }
    for (const edge of edges) {
      const weight = frame ? frame.value[edge.carrier] : null;
      if (weight === null) continue;
      const colour = weight >= 0 ? "#2563eb" : "#ea580c";
      const width = (0.6 + (4 * Math.abs(weight)) / weightScale).toFixed(2);
      for (const part of edge.parts) {
        part.setAttribute("stroke", colour);
        if (part.tagName === "polygon") part.setAttribute("fill", colour);
        else part.setAttribute("stroke-width", width);
      }
    }
  }

  function drawLoss(step) {
    const width = 300;
    const height = 120;
    const losses = state.losses;
    lossBox.textContent = "";
    element("div", "gl-loss-title", lossBox, "training loss (grey: per step, red: running mean)");
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("class", "gl-loss-chart");
    lossBox.appendChild(svg);
    const finite = losses.filter((value) => value !== null && Number.isFinite(value));
    if (!finite.length) return;
    const sorted = finite.slice().sort((a, b) => a - b);
    const top = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] * 1.08 || 1;
    const count = Math.max(losses.length, 2);
    const X = (i) => 4 + (i / (count - 1)) * (width - 8);
    const Y = (v) => height - 4 - (Math.min(v, top) / top) * (height - 8);
    const every = Math.max(1, Math.floor(losses.length / 600)); // a few hundred points are enough
    const window = Math.max(1, Math.round(losses.length / 25));
    const raw = [];
    const mean = [];
    let sum = 0;
    let counted = 0;
    losses.forEach((value, i) => {
      if (value !== null) {
        sum += value;
        counted++;
      }
      const old = i >= window ? losses[i - window] : null;
      if (old !== null) {
        sum -= old;
        counted--;
      }
      if (i % every === 0 && value !== null) raw.push([i, value]);
      if (i % every === 0 && counted > 0) mean.push([i, sum / counted]);
    });
    for (const [points, name] of [[raw, "gl-loss-line"], [mean, "gl-loss-mean"]]) {
      const line = document.createElementNS(SVG_NS, "path");
      line.setAttribute("d", points.map(([i, v], k) => (k ? "L" : "M") + X(i).toFixed(1) + "," + Y(v).toFixed(1)).join(""));
      line.setAttribute("class", name);
      svg.appendChild(line);
    }
    const now = document.createElementNS(SVG_NS, "path");
    now.setAttribute("d", "M" + X(Math.max(0, step - 1)).toFixed(1) + ",0V" + height);
    now.setAttribute("class", "gl-loss-now");
    svg.appendChild(now);
  }

  function drawPanel() {
    panel.textContent = "";
    const index = state.selected;
    if (index === null) {
      element("p", "gl-hint", panel, "Hover over a node (click to keep it) to see its value and grad.");
      return;
    }
    const node = model.get("nodes")[index];
    const frame = state.frames[state.frame];
    element("div", "gl-node-name", panel, node.name);
    element("div", "gl-node-kind", panel, node.kind + (node.kind === node.role ? "" : " · " + node.role));
    const table = element("dl", "gl-numbers", panel);
    const where = frame ? " at step " + frame.step : "";
    element("dt", null, table, "value" + where);
    element("dd", "gl-node-value", table, fmt(frame ? frame.value[index] : null));
    element("dt", null, table, "grad" + where);
    element("dd", "gl-node-grad", table, fmt(frame ? frame.grad[index] : null));
  }

  function select(index) {
    state.selected = index;
    for (const item of groups) item.group.classList.toggle("selected", item.index === index);
    drawPanel();
  }

  function show(position) {
    const count = state.frames.length;
    state.frame = Math.max(0, Math.min(count - 1, position));
    state.follow = state.frame === count - 1;
    slider.max = String(Math.max(0, count - 1));
    slider.value = String(state.frame);
    slider.disabled = count < 2;
    const frame = state.frames[state.frame];
    const step = frame ? frame.step : state.losses.length;
    const loss = step > 0 ? state.losses[step - 1] : null;
    stepLabel.textContent = "step " + step + (loss === null || loss === undefined ? "" : " · loss " + fmt(loss));
    root.dataset.step = String(step);
    root.dataset.frames = String(count);
    root.dataset.running = state.running ? "true" : "false";
    status.textContent = state.running
      ? "training… " + count + " frames, " + state.losses.length + " steps so far"
      : count + " frames of " + state.losses.length + " training steps: drag the slider to scrub the run";
    drawGraph(frame);
    drawLoss(step);
    if (state.selected !== null) drawPanel();
  }

  function addFrames(frames) {
    for (const frame of frames) {
      const last = state.frames[state.frames.length - 1];
      if (last && last.step === frame.step) state.frames[state.frames.length - 1] = frame;
      else state.frames.push(frame);
    }
  }

  function onLive() {
    const live = model.get("live");
    if (!live || !live.seq || live.seq <= state.seq) return;
    state.seq = live.seq;
    state.running = true;
    addFrames(live.frames || []);
    state.losses.length = Math.min(state.losses.length, live.lossFrom);
    state.losses.push(...(live.losses || []));
    show(state.follow ? state.frames.length - 1 : state.frame);
  }

  function onHistory() {
    const history = model.get("history");
    if (!history || !history.frames) return;
    state.frames = history.frames.slice();
    state.losses = history.losses.slice();
    state.seq = history.seq || 0;
    state.running = Boolean(history.running);
    show(state.follow ? state.frames.length - 1 : state.frame);
    onLive(); // anything sent after the history was taken
  }

  function onTexts() {
    title.textContent = model.get("title");
    note.textContent = model.get("note");
  }

  slider.addEventListener("input", () => show(Number(slider.value)));
  model.on("change:live", onLive);
  model.on("change:history", onHistory);
  model.on("change:title", onTexts);
  model.on("change:note", onTexts);
  const onSvg = () => {
    buildGraph();
    show(state.frame);
  };
  model.on("change:svg", onSvg);
  onTexts();
  buildGraph();
  drawPanel();
  onHistory();
  return () => {
    model.off("change:live", onLive);
    model.off("change:history", onHistory);
    model.off("change:title", onTexts);
    model.off("change:note", onTexts);
    model.off("change:svg", onSvg);
  };
}

export default { render };
