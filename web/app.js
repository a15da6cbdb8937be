"use strict";
// The page's whole behaviour: read the server description, send each image to v1/predict?explain=1,
// draw the answer. Every URL is relative, so the page works behind a proxy under any sub-path.
(function () {
  const $ = (id) => document.getElementById(id);
  const results = $("results"), statusEl = $("status"), keyInput = $("apikey");
  let model = null;          // GET v1/models entry
  let keyRequired = false;   // GET ./ (JSON) says whether inference needs a Bearer key
  let queue = [], running = 0;
  const MAX_PARALLEL = 2, CANVAS = 256;

  const say = (msg) => { statusEl.textContent = msg; };
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const pct = (p) => (100 * p).toFixed(p >= 0.1 ? 1 : 2) + "%";

  // What to call the second prefix token: a distillation token, or (the DeiT paper's control) a
  // second class token. Only GET v1/models says which; the answers put either in the same places.
  function secondToken() {
    return model && model.second_token === "class"
      ? { head: "Second class head", rollout: "Second class-token rollout", view: "Second class token" }
      : { head: "Distillation head", rollout: "Distillation-token rollout", view: "Distillation token" };
  }

  // The view showing the second token's map only, offered when there is such a map (a one-head
  // model has none: the button would show nothing). If it was chosen, side by side takes its place.
  function offerSecondTokenView(available) {
    const radio = document.querySelector("input[name=view][value=distill]");
    $("view-distill-name").textContent = secondToken().view;
    radio.closest("label").hidden = !available;
    if (!available && radio.checked) {
      document.querySelector("input[name=view][value=both]").checked = true;
      applyView();
    }
  }

  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" } });
    if (!r.ok) {
      const e = new Error(url + ": HTTP " + r.status);
      e.status = r.status;
      e.retryAfter = Number(r.headers.get("Retry-After")) || 0;
      throw e;
    }
    return r.json();
  }

  async function describe() {
    try {
      const root = await getJSON("./");
      keyRequired = !!root.api_key_required;
      $("keyrow").hidden = !keyRequired;
    } catch (e) { /* an older server: the key field appears on the first 401 */ }
    describeModel();
  }

  // GET v1/models until it answers: a page opened while the model loads (503) would otherwise draw
  // every answer over the whole image instead of the crop the model saw, and ask a model too large
  // to explain for maps. Retried after Retry-After (1 to 30 s) while the server is loading or
  // unreachable; an upload meanwhile asks once more itself (modelReady). Resolves true once read.
  let describing = null, retryTimer = null;
  function describeModel() {
    if (!describing) describing = readModel().finally(() => { describing = null; });
    return describing;
  }
  async function readModel() {
    try {
      const m = (await getJSON("v1/models")).models[0];
      clearTimeout(retryTimer);
      model = m;
      offerSecondTokenView(!!m.second_token);
      const ltc = m.learned_token_cosine;
      $("model").textContent = m.name + " — " + (m.architecture || "DeiT") + ", " + m.input.width + "×" +
        m.input.height + " input, " + (m.input.width / m.patch) + "×" + (m.input.height / m.patch) +
        " patches, " + (m.second_token === "class" ? "two class-token heads" :
                        m.distilled ? "class + distillation heads" : "one head") +
        (ltc === null || ltc === undefined ? "" : ", learned_token_cosine " + ltc.toFixed(3));
      return true;
    } catch (e) {
      const again = !e.status || e.status >= 500; // unreachable, loading (503) or failing
      $("model").textContent = "Could not read the model description (" + e.message + ")" +
        (again ? "; trying again." : ".");
      if (again) {
        clearTimeout(retryTimer);
        retryTimer = setTimeout(describeModel, 1000 * Math.min(30, Math.max(1, e.retryAfter || 1)));
      }
      return false;
    }
  }
  const modelReady = () => (model ? Promise.resolve(true) : describeModel());

  // The region of the original image the model saw, in its pixels: the engine resizes (shorter
  // side to `resize.size`, exactly to width x height, or keeping the aspect ratio so that the image
  // just covers width x height; or not at all, `resize` null) and centre-crops to the input size.
  function cropBox(w, h) {
    const inW = model ? model.input.width : w, inH = model ? model.input.height : h;
    const rz = model && model.input.resize;
    let rw = w, rh = h;
    if (rz && rz.mode === "shortest_side") {
      const s = rz.size / Math.min(w, h);
      rw = w <= h ? rz.size : Math.floor(w * s); rh = h < w ? rz.size : Math.floor(h * s);
    } else if (rz && rz.mode === "exact") {
      rw = rz.width; rh = rz.height;
    } else if (rz && rz.mode === "keep_ratio") {
      const s = Math.max(rz.width / w, rz.height / h);
      rw = Math.round(w * s); rh = Math.round(h * s);
    } else if (!model) {
      // no description (yet): the answer's maps are laid over the image scaled to cover the input
      const s = Math.max(inW / w, inH / h); rw = w * s; rh = h * s;
    } // resize null: the crop is cut from the image as it is (smaller sides padded: drawn black)
    const x0 = Math.round((rw - inW) / 2), y0 = Math.round((rh - inH) / 2);
    return { x: x0 * w / rw, y: y0 * h / rh, w: inW * w / rw, h: inH * h / rh };
  }

  // Colour ramp for a heat value in [0, 1] (dark blue -> red -> yellow), alpha rising with heat.
  function heat(v) {
    const stops = [[0, 0, 0, 120], [0.35, 120, 0, 160], [0.7, 240, 60, 20], [1, 255, 235, 60]];
    let i = 1;
    while (i < stops.length - 1 && v > stops[i][0]) i++;
    const a = stops[i - 1], b = stops[i], t = Math.min(1, Math.max(0, (v - a[0]) / (b[0] - a[0])));
    return [a[1] + t * (b[1] - a[1]), a[2] + t * (b[2] - a[2]), a[3] + t * (b[3] - a[3]), 60 + 195 * v];
  }

  // Canvas pixels with the aspect ratio of the model's input (a 160x224 model sees a portrait
  // crop; a square canvas would stretch it), the longer side CANVAS. Without the model description
  // the answer's patch grid has the same ratio.
  function canvasSize(ex) {
    const w = model ? model.input.width : ex ? ex.grid[1] : 1;
    const h = model ? model.input.height : ex ? ex.grid[0] : 1;
    const s = CANVAS / Math.max(w, h);
    return { w: Math.round(w * s), h: Math.round(h * s) };
  }

  // The crop the model saw (none when the browser cannot decode the file: the map is then drawn
  // over black), and optionally a rollout map (grid [gh, gw]) upsampled over it.
  function draw(canvas, bitmap, box, grey, map, grid) {
    const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, W, H);
    if (bitmap) {
      ctx.filter = grey ? "grayscale(1)" : "none";
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(bitmap, box.x, box.y, box.w, box.h, 0, 0, W, H);
      ctx.filter = "none";
    }
    if (!map) return;
    const [gh, gw] = grid, small = document.createElement("canvas");
    small.width = gw; small.height = gh;
    const sctx = small.getContext("2d"), img = sctx.createImageData(gw, gh);
    let max = 0;
    for (const v of map) max = Math.max(max, v);
    for (let i = 0; i < map.length; i++) {
      const c = heat(max > 0 ? map[i] / max : 0);
      img.data.set([c[0], c[1], c[2], c[3]], 4 * i);
    }
    sctx.putImageData(img, 0, 0);
    ctx.globalAlpha = $("opacity").value / 100;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(small, 0, 0, W, H);
    ctx.globalAlpha = 1;
  }

  function figure(caption, name, size) {
    const f = el("figure"), c = el("canvas");
    c.width = size.w;
    c.height = size.h;
    c.dataset.map = name;
    c.setAttribute("role", "img");
    c.setAttribute("aria-label", caption);
    f.append(c, el("figcaption", "", caption));
    return f;
  }

  function headList(title, cls, preds) {
    const box = el("div", cls), ol = el("ol");
    box.append(el("h4", "", title));
    if (!preds) {
      box.append(el("p", "muted", "(this model has one head)"));
      return box;
    }
    for (const p of preds) {
      const li = el("li");
      const bar = el("div", "bar"), fill = el("span");
      bar.setAttribute("aria-hidden", "true");
      fill.style.width = Math.max(0.5, 100 * p.score) + "%";
      bar.append(fill);
      li.append(el("span", "label", p.label), el("span", "pct", pct(p.score)), bar);
      ol.append(li);
    }
    box.append(ol);
    return box;
  }

  // Applies the chosen view (side by side / one map / none) to every card.
  function applyView() {
    const v = document.querySelector("input[name=view]:checked").value;
    for (const card of results.children) {
      if (!card.render) continue;
      card.render(v);
    }
  }

  function errorText(status, body) {
    const msg = body && body.error && (body.error.message || body.error);
    const why = {
      401: "The API key is missing or wrong.",
      413: "The image is too large for this server.",
      415: "This file is not an image format the server can read.",
      503: "The server is busy or still loading; try again in a moment.",
      504: "The server took too long (queue timeout); try again.",
    }[status] || "The server could not answer.";
    return why + (msg ? " (HTTP " + status + ": " + msg + ")" : " (HTTP " + status + ")");
  }

  async function predict(file, card) {
    const t0 = performance.now();
    const headers = { "Content-Type": file.type || "application/octet-stream", Accept: "application/json" };
    if (keyInput.value) headers.Authorization = "Bearer " + keyInput.value;
    // The picture drawn must be the one the model saw. createImageBitmap turns a photo upright by
    // its EXIF Orientation (a phone photo is stored on its side), while the server by default does
    // not (timm does not); so the page asks the server to turn it too (exif_transpose=1, as
    // Pillow's ImageOps.exif_transpose): the model classifies the photo as its owner sees it.
    // (Drawing the stored pixels instead is no option: Chromium 156 turns the photo upright even
    // with imageOrientation "none".)
    let bitmap = null;
    try { bitmap = await createImageBitmap(file); } // default imageOrientation "from-image": upright
    catch (e) { /* a format the browser cannot decode (TGA, PNM, most TIFFs): maps drawn alone */ }
    let r, body = null;
    await modelReady();
    try {
      // a model too large to explain (v1/models says explain: false) is asked for predictions only;
      // no top_k: the server's default is 5, or every class of a model with fewer
      const explain = model && model.explain === false ? "" : "explain=1&";
      r = await fetch("v1/predict?" + explain + "exif_transpose=1", { method: "POST", headers, body: file });
      body = await r.json().catch(() => null);
    } catch (e) {
      return fail(card, "The server could not be reached (" + e.message + ").");
    }
    if (r.status === 401) { $("keyrow").hidden = false; keyRequired = true; }
    if (!r.ok || !body || !body.predictions) return fail(card, errorText(r.status, body));
    show(card, body, bitmap, performance.now() - t0);
  }

  function fail(card, text) {
    card.setAttribute("aria-busy", "false");
    const p = el("p", "error", text);
    p.setAttribute("role", "alert");
    card.querySelector(".body").replaceChildren(p);
    card.querySelector(".top").textContent = "not analysed";
    say(card.dataset.name + ": " + text);
  }

  function show(card, body, bitmap, ms) {
    const p = body.predictions[0], ex = p.explain, grey = model && model.input.channels === 1;
    const bodyEl = card.querySelector(".body");
    bodyEl.replaceChildren();
    const figs = el("div", "figs"), size = canvasSize(ex), second = secondToken();
    const fImg = figure("Crop the model saw", "image", size);
    const fCls = figure("Class-token rollout", "class", size);
    const fDist = figure(second.rollout, "distill", size);
    figs.append(fImg, fCls, fDist);
    const box = bitmap ? cropBox(bitmap.width, bitmap.height) : null;
    const hasDist = !!(ex && ex.rollout.distill_token);
    card.render = (view) => {
      if (bitmap) draw(fImg.querySelector("canvas"), bitmap, box, grey, null);
      if (ex) draw(fCls.querySelector("canvas"), bitmap, box, grey, ex.rollout.class_token, ex.grid);
      if (hasDist) draw(fDist.querySelector("canvas"), bitmap, box, grey, ex.rollout.distill_token, ex.grid);
      fImg.hidden = !bitmap || view === "class" || view === "distill";
      fCls.hidden = !ex || view === "none" || view === "distill";
      fDist.hidden = !hasDist || view === "none" || view === "class";
    };
    const heads = el("div", "heads");
    heads.append(headList("Class head", "h-class", p.class_head),
                 headList(second.head, "h-distill", p.distill_head),
                 headList("Fused (mean of the two)", "h-fused", p.fused));
    const facts = el("div", "facts");
    if (p.heads_agree !== null) {
      facts.append(el("span", "agree" + (p.heads_agree ? "" : " no"),
                      p.heads_agree ? "Heads agree" : "Heads disagree"));
    }
    if (ex && ex.token_cosine !== null)
      facts.append(el("span", "", "token_cosine " + ex.token_cosine.toFixed(3)));
    const t = body.timing_ms || {};
    facts.append(el("span", "", "server " + (t.total !== undefined ? t.total.toFixed(1) : "?") +
                    " ms (inference " + (t.inference !== undefined ? t.inference.toFixed(1) : "?") +
                    " ms), round trip " + ms.toFixed(0) + " ms"));
    // the server decoded the file but this browser cannot: say why there is no photo
    if (!bitmap) bodyEl.append(el("p", "note muted", "This browser cannot display this image format; the " +
                                  "heatmaps are drawn without the picture underneath."));
    if (!ex && model && model.explain === false)
      bodyEl.append(el("p", "note muted", "No attention maps: this model is too large to explain within the " +
                                "server's memory limit for them; its predictions are shown."));
    bodyEl.append(figs, heads, facts);
    card.setAttribute("aria-busy", "false");
    offerSecondTokenView(hasDist);
    card.querySelector(".top").textContent = p.fused[0].label + " " + pct(p.fused[0].score);
    card.render(document.querySelector("input[name=view]:checked").value);
    say(card.dataset.name + ": " + p.fused[0].label + ", " + pct(p.fused[0].score));
  }

  function pump() {
    while (running < MAX_PARALLEL && queue.length) {
      const [file, card] = queue.shift();
      running++;
      predict(file, card).finally(() => { running--; pump(); });
    }
  }

  function add(files) {
    let n = 0;
    for (const file of files) {
      const card = el("li", "card");
      card.dataset.name = file.name || "pasted image";
      card.setAttribute("aria-busy", "true");
      const head = el("header");
      head.append(el("h3", "", card.dataset.name), el("span", "top muted", "analysing…"));
      card.append(head, el("div", "body"));
      results.prepend(card);
      queue.push([file, card]);
      n++;
    }
    if (n) say(n + (n === 1 ? " image" : " images") + " sent");
    pump();
  }

  const drop = $("drop");
  $("files").addEventListener("change", (e) => { add(e.target.files); e.target.value = ""; });
  for (const ev of ["dragenter", "dragover"])
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const ev of ["dragleave", "drop"])
    drop.addEventListener(ev, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); add(e.dataTransfer.files); });
  document.addEventListener("paste", (e) => {
    const files = [...(e.clipboardData ? e.clipboardData.files : [])];
    if (files.length) { e.preventDefault(); add(files); }
  });
  for (const r of document.querySelectorAll("input[name=view]")) r.addEventListener("change", applyView);
  $("opacity").addEventListener("input", applyView);
  describe();
})();
