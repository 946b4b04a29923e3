// graphdl explorer: plays the recorded data (JSON in #graphdl-data) on the inline graph SVG.
// Plain JavaScript, no library; everything it needs is in the page.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("graphdl-data").textContent);
  const SVG_NS = "http://www.w3.org/2000/svg";
  const POSITIVE = [37, 99, 235]; // #2563eb, as the animation's graph panel
  const NEGATIVE = [234, 88, 12]; // #ea580c
  const UNIT_COLOURS = ["#2563eb", "#ea580c", "#16a34a", "#9333ea"];
  const FRAMES_PER_SECOND = 8;
  const frames = data.steps.length;
  const unit = data.unit || "step"; // what the slider moves through: training steps, or a Trainer run's epochs
  const state = { frame: 0, selected: null, pinned: false, timer: null };
  const updaters = []; // functions redrawing the charts for state.frame

  // ------------------------------------------------------------------ helpers
  function fmt(value) {
    if (value === null || value === undefined) return "—";
    if (value === 0) return "0";
    const size = Math.abs(value);
    if (size >= 1e-4 && size < 1e6) return String(Number(value.toPrecision(4)));
    return value.toExponential(2);
  }

  function svgElement(tag, attributes, parent) {
    const element = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attributes || {})) element.setAttribute(name, value);
    if (parent) parent.appendChild(element);
    return element;
  }

  function htmlElement(tag, className, text, parent) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = text;
    if (parent) parent.appendChild(element);
    return element;
  }

  function short(value) {
    // three significant digits: the edge labels of the sweep sit in narrow gaps
    if (value === null || value === undefined) return "—";
    const size = Math.abs(value);
    if (value === 0 || (size >= 1e-3 && size < 1e5)) return String(Number(value.toPrecision(3)));
    return value.toExponential(1);
  }

  function fillFor(value, scale) {
    const t = Math.max(-1, Math.min(1, value / scale));
    const end = t >= 0 ? POSITIVE : NEGATIVE;
    // at most 75% of the full colour, so the labels on top stay readable
    const mix = end.map((channel) => Math.round(255 + (channel - 255) * 0.75 * Math.abs(t)));
    return "rgb(" + mix.join(",") + ")";
  }

  function finite(values) {
    return values.filter((value) => value !== null && Number.isFinite(value));
  }

  function limits(arrays, pad) {
    let low = Infinity;
    let high = -Infinity;
    for (const array of arrays) {
      for (const value of finite(array)) {
        if (value < low) low = value;
        if (value > high) high = value;
      }
    }
    if (low === Infinity) return [-1, 1];
    const span = high - low || Math.max(Math.abs(high), 1);
    const margin = (pad === undefined ? 0.08 : pad) * span;
    return [low - margin, high + margin];
  }

  function niceTicks(low, high, count) {
    const raw = (high - low) / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
    const ticks = [];
    for (let tick = Math.ceil(low / step) * step; tick <= high + step * 1e-9; tick += step) {
      ticks.push(Math.abs(tick) < step * 1e-9 ? 0 : tick);
    }
    return ticks;
  }

  function runningMean(values, window) {
    const out = [];
    let sum = 0;
    values.forEach((value, index) => {
      sum += value;
      if (index >= window) sum -= values[index - window];
      out.push(sum / Math.min(index + 1, window));
    });
    return out;
  }

  // ------------------------------------------------------------------ charts
  let clipCount = 0;

  function makeChart(parent, options) {
    const width = options.width || 460;
    const height = options.height || 230;
    const m = { left: 44, right: 16, top: options.title ? 24 : 8, bottom: 28 };
    const [x0, x1] = options.xlim;
    const [y0, y1] = options.ylim;
    const svg = svgElement("svg", { viewBox: "0 0 " + width + " " + height, class: "chart" }, parent);
    const X = (x) => m.left + ((x - x0) / (x1 - x0)) * (width - m.left - m.right);
    const Y = (y) => height - m.bottom - ((y - y0) / (y1 - y0)) * (height - m.top - m.bottom);
    if (options.title) svgElement("text", { x: 4, y: 15, class: "chart-title" }, svg).textContent = options.title;
    if (options.shade) {
      const [a, b] = options.shade;
      svgElement("rect", { x: X(a), y: m.top, width: X(b) - X(a), height: height - m.top - m.bottom, class: "shade" }, svg);
    }
    for (const tick of niceTicks(y0, y1, 4)) {
      svgElement("line", { x1: m.left, x2: width - m.right, y1: Y(tick), y2: Y(tick), class: "grid-line" }, svg);
      svgElement("text", { x: m.left - 4, y: Y(tick) + 3, class: "tick", "text-anchor": "end" }, svg).textContent = fmt(tick);
    }
    for (const tick of niceTicks(x0, x1, 5)) {
      svgElement("text", { x: X(tick), y: height - m.bottom + 12, class: "tick", "text-anchor": "middle" }, svg).textContent =
        fmt(tick);
    }
    if (y0 < 0 && y1 > 0) svgElement("line", { x1: m.left, x2: width - m.right, y1: Y(0), y2: Y(0), class: "zero-line" }, svg);
    svgElement("rect", { x: m.left, y: m.top, width: width - m.left - m.right, height: height - m.top - m.bottom, class: "frame" }, svg);
    if (options.xlabel) {
      svgElement("text", { x: width - m.right, y: height - 3, class: "axis-label", "text-anchor": "end" }, svg).textContent =
        options.xlabel;
    }
    const clip = "chart-clip-" + ++clipCount;
    const clipPath = svgElement("clipPath", { id: clip }, svgElement("defs", {}, svg));
    svgElement("rect", { x: m.left, y: m.top, width: width - m.left - m.right, height: height - m.top - m.bottom }, clipPath);
    const plot = svgElement("g", { "clip-path": "url(#" + clip + ")" }, svg);
    let legendRow = 0;
    return {
      svg, X, Y, plot, bottom: height - m.bottom,
      line(colour, lineWidth, dash) {
        const attributes = { fill: "none", stroke: colour, "stroke-width": lineWidth, "stroke-linejoin": "round" };
        if (dash) attributes["stroke-dasharray"] = dash;
        return svgElement("path", attributes, plot);
      },
      draw(path, xs, ys) {
        let d = "";
        for (let i = 0; i < xs.length; i++) {
          if (ys[i] === null || !Number.isFinite(ys[i])) continue; // a gap, e.g. an overflow
          d += (d ? "L" : "M") + X(xs[i]).toFixed(1) + "," + Y(ys[i]).toFixed(1);
        }
        path.setAttribute("d", d);
      },
      legend(colour, label, dash) {
        // Top left, or top right (the text ends where the sample line begins) where the
        // data start high on the left, as a loss curve does.
        const y = m.top + 10 + 13 * legendRow++;
        const right = options.legend === "right";
        const x1 = right ? width - m.right - 22 : m.left + 6;
        const attributes = { x1, x2: x1 + 16, y1: y, y2: y, stroke: colour, "stroke-width": 2.2 };
        if (dash) attributes["stroke-dasharray"] = dash;
        svgElement("line", attributes, svg);
        const text = { x: right ? x1 - 4 : x1 + 20, y: y + 3.5, class: "legend-text" };
        if (right) text["text-anchor"] = "end";
        svgElement("text", text, svg).textContent = label;
      },
    };
  }

  function nodeName(index) {
    return data.nodes[index].name;
  }

  // ------------------------------------------------------------------ a Trainer run's charts
  function epochChart(box, title, series, options) {
    const epochs = data.steps;
    const chart = makeChart(htmlElement("div", "chart-box", null, box), {
      title, xlim: [epochs[0], Math.max(epochs[epochs.length - 1], epochs[0] + 1)],
      ylim: limits(series.map(([, values]) => values).concat(options && options.zero ? [[0]] : [])),
      xlabel: "epoch", legend: options && options.legend,
    });
    series.forEach(([label, values], number) => {
      const colour = UNIT_COLOURS[number % UNIT_COLOURS.length];
      chart.legend(colour, label);
      chart.draw(chart.line(colour, 2), epochs, values);
    });
    const now = chart.line("#111827", 1, "4,3");
    updaters.push(() => now.setAttribute("d", "M" + chart.X(data.steps[state.frame]).toFixed(1) + ",0V1000"));
  }

  function boundaryChart(box, boundary) {
    const holder = htmlElement("div", "chart-box boundary-box", null, box);
    const heading = htmlElement("p", "chart-heading", "", holder);
    const canvas = htmlElement("canvas", "boundary", null, holder);
    const side = 320;
    canvas.width = side;
    canvas.height = side;
    canvas.setAttribute("aria-label", "decision boundary");
    const context = canvas.getContext("2d");
    const n = boundary.size;
    const field = document.createElement("canvas");
    field.width = n;
    field.height = n;
    const fieldContext = field.getContext("2d");
    const [x0, x1] = boundary.x;
    const [y0, y1] = boundary.y;
    const X = (x) => ((x - x0) / (x1 - x0)) * side;
    const Y = (y) => side - ((y - y0) / (y1 - y0)) * side;
    updaters.push(() => {
      const levels = boundary.frames[state.frame];
      const image = fieldContext.createImageData(n, n);
      for (let row = 0; row < n; row++) {
        for (let column = 0; column < n; column++) {
          const level = levels[row * n + column] / 100;
          const colour = fillFor(level, 1).match(/\d+/g).map(Number);
          const at = ((n - 1 - row) * n + column) * 4; // row 0 is the lowest y
          image.data.set([colour[0], colour[1], colour[2], 255], at);
        }
      }
      fieldContext.putImageData(image, 0, 0);
      context.imageSmoothingEnabled = true;
      context.drawImage(field, 0, 0, side, side);
      for (const [a, b, label] of boundary.points) {
        context.beginPath();
        context.arc(X(a), Y(b), 3, 0, 2 * Math.PI);
        context.fillStyle = label > boundary.threshold ? "#1d4ed8" : "#c2410c";
        context.fill();
        context.lineWidth = 0.8;
        context.strokeStyle = "white";
        context.stroke();
      }
      heading.textContent = "decision boundary at epoch " + data.steps[state.frame] +
        " (blue: output above " + fmt(boundary.threshold) + ")";
    });
  }

  function runCharts(box) {
    const run = data.run;
    const logs = run.logs;
    const present = (key) => logs[key].some((value) => value !== null);
    const losses = [["train", logs.train_loss]].concat(present("dev_loss") ? [["dev", logs.dev_loss]] : []);
    epochChart(box, "loss per epoch", losses, { legend: "right" });
    if (run.metric && present("train_metric")) {
      const metric = [["train", logs.train_metric]].concat(present("dev_metric") ? [["dev", logs.dev_metric]] : []);
      epochChart(box, run.metric + " per epoch", metric);
    }
    if (run.boundary) boundaryChart(box, run.boundary);
    if (run.layers.length) {
      epochChart(box, "gradient norm per layer (mean over the epoch's steps)",
        run.layers.map((layer, number) => [layer, run.gradNorms[number]]), { legend: "right", zero: true });
    }
  }

  function buildCharts() {
    const box = document.getElementById("charts");
    if (data.run) {
      runCharts(box);
      return;
    }
    const panels = data.panels;
    if (!panels || !data.x) {
      box.hidden = true;
      return;
    }
    const xs = data.x.values;
    const xlim = [xs[0], xs[xs.length - 1]];
    const shade = data.xRange;
    const xlabel = data.x.label;
    const curveLimits = (indices, extra) => limits(indices.flatMap((i) => data.curves[i]).concat(extra || []));

    function curveChart(title, indices, extra) {
      const chart = makeChart(htmlElement("div", "chart-box", null, box), {
        title, xlim, ylim: curveLimits(indices, extra), xlabel, shade,
      });
      const lines = indices.map((index, number) => {
        const colour = UNIT_COLOURS[number % UNIT_COLOURS.length];
        chart.legend(colour, nodeName(index));
        return [chart.line(colour, 2.2), index];
      });
      updaters.push(() => lines.forEach(([path, index]) => chart.draw(path, xs, data.curves[index][state.frame])));
      return chart;
    }

    if (panels.hidden.length) {
      const chart = curveChart("1  hidden pre-activations (dots: kinks)", panels.hidden);
      const marks = panels.kinks.map(([weight, bias], number) => {
        const colour = UNIT_COLOURS[number % UNIT_COLOURS.length];
        const group = svgElement("g", { class: "kink" }, chart.plot);
        const rule = svgElement("line", { stroke: colour, "stroke-dasharray": "2,3", "stroke-width": 1.4 }, group);
        const dot = svgElement("circle", { r: 4.5, fill: colour, stroke: "white", "stroke-width": 1.5 }, group);
        const label = svgElement("text", { class: "kink-label", fill: colour, "text-anchor": "middle" }, group);
        return { weight, bias, group, rule, dot, label, number };
      });
      updaters.push(() => {
        for (const mark of marks) {
          const w = data.value[mark.weight][state.frame];
          const b = data.value[mark.bias][state.frame];
          const kink = w ? -b / w : NaN;
          const visible = Number.isFinite(kink) && kink >= xlim[0] && kink <= xlim[1];
          mark.group.style.display = visible ? "" : "none";
          if (!visible) continue;
          const x = chart.X(kink);
          const y = chart.Y(0);
          mark.rule.setAttribute("x1", x);
          mark.rule.setAttribute("x2", x);
          mark.rule.setAttribute("y1", 0);
          mark.rule.setAttribute("y2", 1000);
          mark.dot.setAttribute("cx", x);
          mark.dot.setAttribute("cy", y);
          mark.label.setAttribute("x", x);
          mark.label.setAttribute("y", chart.bottom - 6 - 12 * mark.number);
          mark.label.textContent = "kink " + (Math.round(kink * 100) / 100 + 0).toFixed(2);
        }
      });
    }
    if (panels.weighted.length) curveChart("2  weighted hidden outputs", panels.weighted);
    if (panels.output !== null) {
      const target = panels.target;
      const chart = makeChart(htmlElement("div", "chart-box", null, box), {
        title: "3  output " + nodeName(panels.output) + (target ? " vs the target" : " over " + xlabel),
        xlim, ylim: curveLimits([panels.output], target ? [target] : []), xlabel, shade,
      });
      if (target) {
        chart.legend("#111827", panels.targetLabel, "6,4");
        chart.draw(chart.line("#111827", 1.6, "6,4"), xs, target);
      }
      chart.legend("#dc2626", nodeName(panels.output));
      const fit = chart.line("#dc2626", 2.4);
      updaters.push(() => chart.draw(fit, xs, data.curves[panels.output][state.frame]));
    }
    if (data.losses && data.losses.length) lossChart(box);
  }

  function lossChart(box) {
    const losses = data.losses.map((value) => (value === null ? NaN : value));
    const window = data.panels.lossWindow || Math.max(1, Math.floor(losses.length / 40));
    const smooth = runningMean(losses, window);
    const sorted = finite(losses).slice().sort((a, b) => a - b);
    const top = sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(0.995 * sorted.length))] * 1.08 : 1;
    const steps = losses.map((_, index) => index + 1);
    const chart = makeChart(htmlElement("div", "chart-box", null, box), {
      title: "4  training loss so far", xlim: [0, Math.max(data.total, 1)], ylim: [0, top > 0 ? top : 1], xlabel: "step",
      legend: "right",
    });
    chart.legend("#9ca3af", "per step");
    chart.legend("#dc2626", "mean of last " + window);
    const raw = chart.line("#9ca3af", 0.7);
    const mean = chart.line("#dc2626", 2);
    const now = chart.line("#111827", 1, "4,3");
    updaters.push(() => {
      const done = data.steps[state.frame];
      chart.draw(raw, steps.slice(0, done), losses.slice(0, done));
      chart.draw(mean, steps.slice(0, done), smooth.slice(0, done));
      now.setAttribute("d", "M" + chart.X(done).toFixed(1) + ",0V1000");
    });
    state.smooth = smooth;
    state.window = window;
  }

  // ------------------------------------------------------------------ the graph
  const groups = Array.from(document.querySelectorAll("#graph g.node[data-index], #overview g.node[data-index]"));
  const indices = groups.map((group) => Number(group.dataset.index));
  const shapes = groups.map((group) => group.querySelector(".shape"));
  const valueTexts = groups.map((group) => group.querySelector(".value-text"));
  const gradTexts = groups.map((group) => group.querySelector(".grad-text"));
  const roleFills = shapes.map((shape) => (shape ? shape.getAttribute("fill") : null));
  const edges = Array.from(document.querySelectorAll("#graph g.edge[data-carrier]")).map((edge) => ({
    carrier: Number(edge.dataset.carrier),
    parts: Array.from(edge.querySelectorAll("path, polygon")),
  }));
  const valueScale = Math.max(1e-12, ...data.value.flatMap((row) => finite(row).map(Math.abs)));
  const weightScale = Math.max(1e-12, ...edges.flatMap((edge) => finite(data.value[edge.carrier]).map(Math.abs)));
  const fillByValue = document.getElementById("fill-by-value");

  function drawGraph() {
    const byValue = fillByValue.checked;
    const sample = backprop.on ? sweepFrame() : null;
    indices.forEach((index, position) => {
      const value = sample ? sample.values[index] : data.value[index][state.frame];
      if (shapes[position]) {
        const fill = byValue && value !== null ? fillFor(value, valueScale) : roleFills[position];
        shapes[position].setAttribute("fill", fill);
      }
      if (valueTexts[position]) {
        valueTexts[position].textContent = (data.batch[index] && !sample ? "mean " : "value ") + fmt(value);
      }
      if (gradTexts[position]) gradTexts[position].textContent = "grad " + fmt(data.grad[index][state.frame]);
    });
    drawSweep();
    for (const edge of edges) {
      const weight = data.value[edge.carrier][state.frame];
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

  // ------------------------------------------------------------------ Backprop mode
  // Replays the engine's recorded reverse sweep (data.sweep: one frame per step, each the
  // visits in the sweep's order) one node at a time; nothing is computed here.
  const graphSvg = document.querySelector("#graph svg");
  const sweep = data.sweep || { frames: null, note: "" };
  const backprop = { on: false, position: 0 };
  const nodeGroup = new Map(
    Array.from(document.querySelectorAll("#graph g.node[data-index]")).map((group) => [Number(group.dataset.index), group]),
  );
  const edgesBetween = new Map(); // "parent>child" -> the edge groups, in argument order
  for (const edge of document.querySelectorAll("#graph g.edge[data-from]")) {
    const key = edge.dataset.from + ">" + edge.dataset.to;
    if (!edgesBetween.has(key)) edgesBetween.set(key, []);
    edgesBetween.get(key).push(edge);
  }
  const labelLayer = svgElement("g", { class: "sweep-labels" }, graphSvg.querySelector("g.graph") || graphSvg);

  function sweepFrame() {
    return sweep.frames[Math.min(state.frame, sweep.frames.length - 1)];
  }

  function pathsText(products, grad) {
    if (products.length < 2) return fmt(grad);
    const sum = products.length <= 3 ? products.map(fmt).join(" + ") : "Σ of " + products.length + " paths";
    return sum + " = " + fmt(grad);
  }

  function labelEdge(edge, lines, current) {
    const path = edge.querySelector("path");
    if (!path) return;
    const middle = path.getPointAtLength(path.getTotalLength() / 2);
    const chip = svgElement("g", { class: current ? "sweep-chip current" : "sweep-chip" }, labelLayer);
    const back = svgElement("rect", { rx: 3 }, chip);
    const label = svgElement("text", { x: middle.x, y: middle.y - 2, "text-anchor": "middle" }, chip);
    label.textContent = lines[0];
    for (const more of lines.slice(1)) {
      const line = svgElement("tspan", { x: middle.x, dy: "1.1em" }, label);
      line.textContent = more;
    }
    const box = label.getBBox();
    back.setAttribute("x", box.x - 3);
    back.setAttribute("y", box.y - 1);
    back.setAttribute("width", box.width + 6);
    back.setAttribute("height", box.height + 2);
  }

  // What the sweep has done after the visit at backprop.position: the products each node
  // has received, the nodes visited, the paths swept.
  function sweepState() {
    const visits = sweepFrame().visits;
    backprop.position = Math.min(backprop.position, visits.length - 1);
    const received = new Map();
    const visited = new Map();
    const swept = [];
    for (let position = 0; position <= backprop.position; position++) {
      const [node, grad, paths] = visits[position];
      visited.set(node, grad);
      for (const [parent, occurrence, local, product] of paths) {
        if (!received.has(parent)) received.set(parent, []);
        received.get(parent).push(product);
        swept.push({ node, parent, occurrence, local, grad, product });
      }
    }
    return { visits, received, visited, swept };
  }

  function drawSweep() {
    labelLayer.textContent = "";
    for (const group of groups) group.classList.remove("current", "visited");
    for (const list of edgesBetween.values()) list.forEach((edge) => edge.classList.remove("swept"));
    if (!backprop.on) return;
    const { visits, received, visited, swept } = sweepState();
    const sweeps = new Set(visits.map(([node]) => node));
    const incoming = new Map(); // the paths each node will receive in the whole sweep
    for (const [, , paths] of visits) for (const [parent] of paths) incoming.set(parent, (incoming.get(parent) || 0) + 1);
    const earlier = [];
    const latest = [];
    for (const path of swept) {
      const edge = (edgesBetween.get(path.parent + ">" + path.node) || [])[path.occurrence];
      if (!edge) continue;
      edge.classList.add("swept");
      const current = path.node === visits[backprop.position][0];
      const text = path.local === null
        ? ["vjp ", "= " + short(path.product)] // textContent reads "∂=0.3 × 1 = 0.3" (a space ends line 1)
        : ["∂=" + short(path.local) + " × " + short(path.grad) + " ", "= " + short(path.product)];
      (current ? latest : earlier).push([edge, text, current]);
    }
    for (const [edge, text, current] of earlier.concat(latest)) labelEdge(edge, text, current); // the current on top
    indices.forEach((index, position) => {
      const group = groups[position];
      const products = received.get(index) || [];
      if (visited.has(index)) group.classList.add("visited");
      if (!gradTexts[position]) return;
      let text = sweeps.has(index) ? "grad ?" : "grad —"; // "—": the sweep never reaches it (data, constants)
      if (visited.has(index)) text = "grad " + (products.length ? pathsText(products, visited.get(index)) : fmt(visited.get(index)));
      else if (products.length) {
        const more = products.length < (incoming.get(index) || 0) ? " + …" : "";
        text = "grad " + products.map(fmt).join(" + ") + more;
      }
      gradTexts[position].textContent = text;
    });
    const current = nodeGroup.get(visits[backprop.position][0]);
    if (current) {
      current.classList.add("current");
      if (overviewBox) scrollToElement(current);
    }
    const [node, grad] = visits[backprop.position];
    sweepLabel.textContent = "visit " + (backprop.position + 1) + " of " + visits.length + ": d" +
      nodeName(visits[0][0]) + "/d" + nodeName(node) + " = " + fmt(grad);
    prevButton.disabled = backprop.position === 0;
    nextButton.disabled = backprop.position === visits.length - 1;
  }

  function drawSweepPanel() {
    const { visits, received } = sweepState();
    const [node, grad, paths] = visits[backprop.position];
    const target = nodeName(visits[0][0]);
    panel.textContent = "";
    htmlElement("h2", "node-name", nodeName(node), panel);
    htmlElement("p", "node-kind", "Backprop, visit " + (backprop.position + 1) + " of " + visits.length +
      (frames > 1 ? ", " + unit + " " + data.steps[state.frame] : ""), panel);
    const table = htmlElement("dl", "numbers", null, panel);
    htmlElement("dt", null, "value", table);
    htmlElement("dd", "node-value", fmt(sweepFrame().values[node]), table);
    htmlElement("dt", null, "d" + target + "/d" + nodeName(node), table);
    htmlElement("dd", "node-grad", fmt(grad), table);
    const products = received.get(node) || [];
    if (backprop.position === 0) htmlElement("p", "chain", "The sweep starts here: d" + target + "/d" + target + " = 1.", panel);
    else if (products.length > 1) {
      htmlElement("p", "chain", "Reached by " + products.length + " paths; its gradient is their sum: " +
        pathsText(products, grad), panel);
    }
    if (paths.length) {
      htmlElement("p", "chain", "It sends to its parents (local derivative × its gradient):", panel);
      const list = htmlElement("ul", "chain-list", null, panel);
      for (const [parent, , local, product] of paths) {
        const text = local === null
          ? nodeName(parent) + ": its operator's own vjp gives " + fmt(product)
          : "∂" + nodeName(node) + "/∂" + nodeName(parent) + " = " + fmt(local) + ";  " + fmt(local) + " × " + fmt(grad) +
            " = " + fmt(product);
        htmlElement("li", null, text, list);
      }
    } else if (backprop.position > 0) {
      htmlElement("p", "chain", "A trainable Variable: the sweep ends here; the optimiser uses this gradient.", panel);
    }
    htmlElement("p", "note", sweep.note, panel);
  }

  const backpropButton = document.getElementById("backprop");
  const prevButton = document.getElementById("prev");
  const nextButton = document.getElementById("next");
  const sweepBar = document.getElementById("sweep-bar");
  const sweepLabel = document.getElementById("sweep-label");

  function setBackprop(on) {
    backprop.on = on && Boolean(sweep.frames);
    if (backprop.on && overviewBox && !overviewBox.hidden) openLayer(null);
    backpropButton.setAttribute("aria-pressed", String(backprop.on));
    backpropButton.classList.toggle("active", backprop.on);
    sweepBar.hidden = !backprop.on;
    if (backprop.on) stop();
    drawGraph();
    if (backprop.on) drawSweepPanel();
    else drawPanel();
  }

  function moveSweep(by) {
    if (!backprop.on) return;
    const last = sweepFrame().visits.length - 1;
    backprop.position = Math.max(0, Math.min(last, backprop.position + by));
    drawSweep();
    drawSweepPanel();
  }

  if (sweep.frames) {
    backpropButton.addEventListener("click", () => setBackprop(!backprop.on));
    prevButton.addEventListener("click", () => moveSweep(-1));
    nextButton.addEventListener("click", () => moveSweep(1));
  } else {
    backpropButton.disabled = true;
    backpropButton.title = sweep.note;
  }
  document.addEventListener("keydown", (event) => {
    if (!backprop.on || event.target.closest("input, select")) return;
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      event.preventDefault();
      moveSweep(event.key === "ArrowRight" ? 1 : -1);
    }
  });

  // ------------------------------------------------------------------ the gradient graph
  // graphdl.grad(loss, parameters) drawn beside the graph; its values are the engine's, at
  // Backprop's sample and the slider's step (sweep.frames[...].gradient).
  const gradientBox = document.getElementById("gradient-box");
  const gradientToggle = document.getElementById("gradient-toggle");
  const gradientGroups = Array.from(document.querySelectorAll("#gradient-graph g.gnode[data-index]"));
  const gradientSvg = document.querySelector("#gradient-graph svg");
  if (gradientSvg) {
    // drawn at one pixel per point (12 px box text), scrolled rather than shrunk to the width
    gradientSvg.style.width = Math.round(gradientSvg.viewBox.baseVal.width) + "px";
    gradientSvg.style.maxWidth = "none";
  }

  function drawGradientGraph() {
    if (!gradientBox || gradientBox.hidden) return;
    const values = sweepFrame().gradient;
    for (const group of gradientGroups) {
      const text = group.querySelector(".value-text");
      if (text) text.textContent = "value " + fmt(values[Number(group.dataset.index)]);
    }
    document.getElementById("gradient-where").textContent =
      (frames > 1 ? "at " + unit + " " + data.steps[state.frame] + ", " : "") + "for Backprop's sample";
  }

  if (gradientToggle) {
    gradientToggle.addEventListener("click", () => {
      gradientBox.hidden = !gradientBox.hidden;
      gradientToggle.setAttribute("aria-pressed", String(!gradientBox.hidden));
      gradientToggle.classList.toggle("active", !gradientBox.hidden);
      drawGradientGraph();
    });
  }
  updaters.push(drawGradientGraph);

  // ------------------------------------------------------------------ zoom and layers
  // A big graph opens on its overview (#overview: one box per layer); clicking a box
  // opens the full graph at that layer, "layers" goes back.
  const overviewBox = document.getElementById("overview");
  const graphBox = document.getElementById("graph");
  const overviewSvg = overviewBox ? overviewBox.querySelector("svg") : null;
  const layersButton = document.getElementById("zoom-layers");
  const zooms = new Map(); // svg -> null (fit the box's width, never beyond the natural size) or a factor
  const natural = (svg) => parseFloat(svg.dataset.natural || svg.style.maxWidth) || svg.viewBox.baseVal.width;
  for (const svg of [graphSvg, overviewSvg]) if (svg) svg.dataset.natural = natural(svg);

  function shownSvg() {
    return overviewBox && !overviewBox.hidden ? overviewSvg : graphSvg;
  }

  function applyZoom(svg) {
    const zoom = zooms.get(svg) ?? null;
    svg.style.maxWidth = zoom === null ? natural(svg) + "px" : "none";
    svg.style.width = zoom === null ? "100%" : Math.round(natural(svg) * zoom) + "px";
  }

  function currentZoom(svg) {
    const zoom = zooms.get(svg) ?? null;
    return zoom === null ? svg.getBoundingClientRect().width / natural(svg) : zoom;
  }

  function setZoom(svg, zoom) {
    zooms.set(svg, zoom);
    applyZoom(svg);
  }

  document.getElementById("zoom-in").addEventListener("click", () => {
    const svg = shownSvg();
    setZoom(svg, Math.min(4, currentZoom(svg) * 1.25));
  });
  document.getElementById("zoom-out").addEventListener("click", () => {
    const svg = shownSvg();
    setZoom(svg, Math.max(0.1, currentZoom(svg) / 1.25));
  });
  document.getElementById("zoom-fit").addEventListener("click", () => setZoom(shownSvg(), null));

  function scrollToElement(element) {
    const box = graphBox.getBoundingClientRect();
    const rect = element.getBoundingClientRect();
    if (rect.left < box.left || rect.right > box.right) graphBox.scrollLeft += rect.left - box.left - 12;
    if (rect.top < box.top || rect.bottom > box.bottom) graphBox.scrollTop += rect.top - box.top - 12;
  }

  function showOverview(on) {
    if (!overviewBox) return;
    overviewBox.hidden = !on;
    graphBox.hidden = on;
    layersButton.hidden = on;
  }

  function openLayer(layer) {
    showOverview(false);
    setZoom(graphSvg, 0.8); // 12-point box text at 12.8 px
    const cluster = Array.from(graphSvg.querySelectorAll("g.cluster")).find((group) => group.dataset.layer === layer);
    if (cluster) scrollToElement(cluster);
  }

  const layerBoxes = overviewSvg ? Array.from(overviewSvg.querySelectorAll("g.layer-box")) : [];
  for (const box of layerBoxes) {
    box.setAttribute("tabindex", "0");
    box.setAttribute("role", "button");
    box.addEventListener("click", () => openLayer(box.dataset.layer));
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter") openLayer(box.dataset.layer);
    });
  }
  if (layersButton) layersButton.addEventListener("click", () => showOverview(true));

  function drawLayerNorms() {
    for (const box of layerBoxes) {
      const text = box.querySelector(".norm-text");
      const layer = data.run ? data.run.layers.indexOf(box.dataset.layer) : -1;
      if (text) text.textContent = layer < 0 ? "" : "grad norm " + fmt(data.run.gradNorms[layer][state.frame]);
    }
  }
  updaters.push(drawLayerNorms);

  // ------------------------------------------------------------------ the node panel
  const panel = document.getElementById("panel");

  function miniChart(parent, title, xs, rows, xlabel, marker, shade) {
    const chart = makeChart(parent, {
      title, xlim: [xs[0], xs[xs.length - 1] === xs[0] ? xs[0] + 1 : xs[xs.length - 1]], ylim: limits(rows.all),
      xlabel, width: 300, height: 170, shade,
    });
    chart.draw(chart.line("#111827", 1.8), xs, rows.now);
    if (marker !== undefined && marker !== null) {
      svgElement("circle", { cx: chart.X(marker[0]), cy: chart.Y(marker[1]), r: 4, class: "marker" }, chart.plot);
    }
  }

  function drawPanel() {
    if (backprop.on) {
      drawSweepPanel();
      return;
    }
    const index = state.selected;
    panel.textContent = "";
    if (index === null) {
      htmlElement("p", "hint", "Hover over a node (click to keep it) to see its value and grad.", panel);
      return;
    }
    const node = data.nodes[index];
    htmlElement("h2", "node-name", node.name, panel);
    htmlElement("p", "node-kind", node.kind + (node.kind === node.role ? "" : " · " + node.role), panel);
    const table = htmlElement("dl", "numbers", null, panel);
    const where = frames > 1 ? " at " + unit + " " + data.steps[state.frame] : "";
    htmlElement("dt", null, (data.batch[index] ? "value (mean)" : "value") + where, table);
    htmlElement("dd", "node-value", fmt(data.value[index][state.frame]), table);
    htmlElement("dt", null, "grad" + where, table);
    htmlElement("dd", "node-grad", fmt(data.grad[index][state.frame]), table);
    const curves = data.curves[index];
    if (curves && data.x) {
      const xs = data.x.values;
      miniChart(panel, "output over " + data.x.label, xs, { now: curves[state.frame], all: curves }, data.x.label, null, data.xRange);
    }
    if (frames > 1) {
      const values = data.value[index];
      const marker = values[state.frame] === null ? null : [data.steps[state.frame], values[state.frame]];
      miniChart(panel, (data.batch[index] ? "mean value" : "value") + " over the " + unit + "s", data.steps, { now: values, all: [values] }, unit, marker);
    }
    htmlElement("p", "note", data.note, panel);
    if (state.pinned) htmlElement("p", "hint", "Kept: click the node again to let hovering choose.", panel);
  }

  function select(index) {
    state.selected = index;
    groups.forEach((group) => group.classList.toggle("selected", Number(group.dataset.index) === index));
    drawPanel();
  }

  groups.forEach((group) => {
    const index = Number(group.dataset.index);
    group.setAttribute("tabindex", "0");
    group.addEventListener("mouseenter", () => {
      if (!state.pinned) select(index);
    });
    group.addEventListener("focus", () => {
      if (!state.pinned) select(index);
    });
    group.addEventListener("click", () => {
      state.pinned = !(state.pinned && state.selected === index);
      select(index);
    });
  });

  // ------------------------------------------------------------------ steps and playing
  const slider = document.getElementById("step");
  const playButton = document.getElementById("play");
  const speed = document.getElementById("speed");
  const stepLabel = document.getElementById("step-label");

  function showFrame(frame) {
    state.frame = Math.max(0, Math.min(frames - 1, frame));
    if (slider) slider.value = String(state.frame);
    if (frames > 1) {
      const done = data.steps[state.frame];
      let text = unit + " " + done + " / " + data.total;
      if (state.smooth && done > 0) text += "   loss " + fmt(state.smooth[done - 1]) + " (mean of last " + state.window + ")";
      stepLabel.textContent = text;
    } else {
      stepLabel.textContent = "still: one point, no recording";
    }
    drawGraph();
    updaters.forEach((update) => update());
    if (state.selected !== null || backprop.on) drawPanel();
  }

  function stop() {
    if (state.timer !== null) clearInterval(state.timer);
    state.timer = null;
    if (playButton) {
      playButton.textContent = "Play";
      playButton.setAttribute("aria-label", "play");
    }
  }

  function start() {
    if (state.frame >= frames - 1) showFrame(0);
    const interval = 1000 / (FRAMES_PER_SECOND * Number(speed.value));
    state.timer = setInterval(() => {
      if (state.frame >= frames - 1) stop();
      else showFrame(state.frame + 1);
    }, interval);
    playButton.textContent = "Pause";
    playButton.setAttribute("aria-label", "pause");
  }

  if (playButton) {
    playButton.addEventListener("click", () => (state.timer === null ? start() : stop()));
    const follow = () => {
      if (Number(slider.value) === state.frame) return;
      stop();
      showFrame(Number(slider.value));
    };
    slider.addEventListener("input", follow);
    slider.addEventListener("change", follow); // a value set by a script, then announced
    speed.addEventListener("change", () => {
      if (state.timer !== null) {
        stop();
        start();
      }
    });
  }
  fillByValue.addEventListener("change", drawGraph);
  document.addEventListener("keydown", (event) => {
    // the space bar plays and pauses, unless a control has the keyboard
    if (event.key !== " " || !playButton || event.target.closest("button, input, select")) return;
    event.preventDefault();
    playButton.click();
  });

  // ------------------------------------------------------------------ texts
  const subtitle = document.getElementById("subtitle");
  subtitle.textContent =
    (frames > 1
      ? frames + " recorded " + unit + "s of " + data.total + " training " + unit + "s"
      : "the graph at its current point") +
    " · " + data.nodes.length + " nodes · layout: " + data.layout;
  document.getElementById("key").textContent =
    "Fill: the node's value (orange below 0, white at 0, blue above 0; full colour at ±" + fmt(valueScale) +
    "). Outline: its role, as render() draws it. Edges that carry a weight: blue when it is positive, orange when" +
    " negative, thicker when larger. " + data.note;

  buildCharts();
  showFrame(0);

  // ------------------------------------------------------------------ in a notebook's frame
  // The frame takes the page's height: tell the notebook (its output script listens).
  if (window.parent !== window) {
    document.body.classList.add("embedded");
    const tell = () => window.parent.postMessage({ graphdlExplorerHeight: document.documentElement.scrollHeight }, "*");
    new ResizeObserver(tell).observe(document.body);
    tell();
  }
})();
