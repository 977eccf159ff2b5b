// The in-page denoiser of book/10_in_the_page.md: draw a digit, add seeded noise, and watch the
// posterior mean E[x0 | y] at the matched step t*, computed by onnxruntime-web (WebAssembly) from
// the ONNX file that `python -m tinyddpm.harness.export` writes (see src/tinyddpm/harness/export.py).
//
// Notation as in the package: pixels in [0, 1]; sigma in pixel units (model units 2 sigma);
// y = x + sigma n, never clipped; t* the fractional step with alpha_bar(t*) = 1 / (1 + (2 sigma)^2).
// Plain JavaScript, no framework; loaded by that page only. Its API, for tests and the curious:
//   window.tinyddpmPage = {ready, setDigit(784 values), pickDigit(k), setSigma(s), setNoise(784
//   values), setSeed(k), result() -> Promise<{x0, y, psnr, psnrText, ms, sigma, t, alphaBar}>}
(() => {
  "use strict";
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();

  function init() {
    const root = document.getElementById("tinyddpm-in-page");
    if (!root) return;
    const N = 28 * 28;
    const $ = (sel) => root.querySelector(sel);
    const live = $(".tip-live");
    const fallback = document.querySelector(".tip-fallback");
    const status = $(".tip-status");
    const ortBase = root.dataset.ort;  // the pinned onnxruntime-web's dist/ folder (CDN, or the test's copy)

    // ---- seeded noise: mulberry32 (Tommy Ettinger's 32-bit generator) and Box-Muller ------------
    function mulberry32(seed) {
      let a = seed >>> 0;
      return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = Math.imul(a ^ (a >>> 15), 1 | a);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }
    function gaussianNoise(seed) {
      const u01 = mulberry32(seed), n = new Float32Array(N);
      for (let i = 0; i < N; i += 2) {
        const u = 1 - u01(), v = u01();  // u in (0, 1]: log(u) is finite
        const r = Math.sqrt(-2 * Math.log(u));
        n[i] = r * Math.cos(2 * Math.PI * v);
        n[i + 1] = r * Math.sin(2 * Math.PI * v);
      }
      return n;
    }

    // ---- the schedule in continuous time: a deliberate copy of NoiseSchedule.t_from_sigma and
    // alpha_bar_at (src/tinyddpm/schedules.py), in float64 like the package, on the exported table
    function tFromSigma(ab, T, s) {  // s in model units
      const target = 1 / (1 + s * s);
      let hi = 0;
      while (hi <= T && ab[hi] > target) hi++;  // first grid step with alpha_bar <= target
      hi = Math.min(Math.max(hi, 1), T);
      const lo = hi - 1;
      const w = (ab[lo] - target) / (ab[lo] - ab[hi]);
      return lo + Math.min(Math.max(w, 0), 1);
    }
    function alphaBarAt(ab, T, t) {
      const lo = Math.min(Math.floor(t), T - 1), w = t - lo;
      return ab[lo] * (1 - w) + ab[lo + 1] * w;
    }
    function psnr(x, ref) {
      let se = 0;
      for (let i = 0; i < N; i++) se += (x[i] - ref[i]) ** 2;
      return 10 * Math.log10(1 / Math.max(se / N, 1e-20));
    }

    // ---- state ---------------------------------------------------------------------------------
    const state = {digit: new Float32Array(N), noise: gaussianNoise(0), seed: 0, sigma: 0.4};
    let ort = null, table = null, session = null, failed = null;
    let version = 0, done = -1, running = false, latest = null;
    const waiters = [];

    function paint(canvas, values) {
      const ctx = canvas.getContext("2d"), img = ctx.createImageData(28, 28);
      for (let i = 0; i < N; i++) {
        const g = Math.round(255 * Math.min(Math.max(values[i], 0), 1));
        img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = g;
        img.data[4 * i + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
    }
    function noisy() {  // y = x + sigma n, pixel units, not clipped
      const y = new Float32Array(N);
      for (let i = 0; i < N; i++) y[i] = state.digit[i] + state.sigma * state.noise[i];
      return y;
    }
    function changed() {
      version++;
      paint($(".tip-draw"), state.digit);
      paint($(".tip-noisy"), noisy());
      $(".tip-sigma-value").textContent = state.sigma.toFixed(2);
      $(".tip-seed").textContent = String(state.seed);
      run();
    }

    // ---- one network call per state; calls never overlap, the latest state always wins --------
    async function denoiseNow() {
      const y = noisy(), sigma = state.sigma, digit = state.digit.slice();
      const t = tFromSigma(table.alpha_bar, table.T, 2 * sigma);  // model-unit noise 2 sigma
      const alphaBar = alphaBarAt(table.alpha_bar, table.T, t);
      const feeds = {
        y: new ort.Tensor("float32", y, [1, 1, 28, 28]),
        t: new ort.Tensor("float32", Float32Array.of(t), [1]),
        alpha_bar: new ort.Tensor("float32", Float32Array.of(alphaBar), [1]),
      };
      const start = performance.now();
      const out = await session.run(feeds);
      const ms = performance.now() - start;
      const x0 = out[table.output].data;
      const p = psnr(x0, digit);
      return {x0, y, sigma, t, alphaBar, ms, psnr: p, psnrText: p.toFixed(2), noisyPsnr: psnr(y, digit)};
    }
    async function run() {
      if (running || !session) return;
      running = true;
      try {
        while (done < version) {
          const v = version;
          latest = await denoiseNow();
          done = v;
          paint($(".tip-denoised"), latest.x0);
          $(".tip-psnr").textContent = latest.psnrText;
          $(".tip-psnr-noisy").textContent = latest.noisyPsnr.toFixed(2);
          $(".tip-t").textContent = latest.t.toFixed(1);
          $(".tip-ms").textContent = latest.ms.toFixed(1);
          for (let i = waiters.length - 1; i >= 0; i--) {
            if (waiters[i].v <= done) waiters.splice(i, 1)[0].resolve(latest);
          }
        }
      } catch (e) {
        fail(e);
      } finally {
        running = false;
      }
    }
    function fail(e) {
      failed = e instanceof Error ? e : new Error(String(e));
      live.hidden = true;
      if (fallback) fallback.hidden = false;
      const why = document.querySelector(".tip-why");
      if (why) why.textContent = failed.message;
      waiters.splice(0).forEach((w) => w.reject(failed));
    }

    // ---- drawing: pointer events cover mouse, pen and touch -------------------------------------
    function stamp(px, py) {  // a soft round brush, about 2.5 pixels wide, in 28x28 coordinates
      for (let r = Math.floor(py - 2); r <= Math.ceil(py + 2); r++) {
        for (let c = Math.floor(px - 2); c <= Math.ceil(px + 2); c++) {
          if (r < 0 || r > 27 || c < 0 || c > 27) continue;
          const d2 = (c + 0.5 - px) ** 2 + (r + 0.5 - py) ** 2;
          const i = 28 * r + c;
          state.digit[i] = Math.max(state.digit[i], Math.min(1, 1.25 * Math.exp(-d2 / 1.2)));
        }
      }
    }
    const draw = $(".tip-draw");
    let last = null;
    const at = (e) => {
      const b = draw.getBoundingClientRect();
      return [(28 * (e.clientX - b.left)) / b.width, (28 * (e.clientY - b.top)) / b.height];
    };
    draw.addEventListener("pointerdown", (e) => {
      e.preventDefault();
      draw.setPointerCapture(e.pointerId);
      last = at(e);
      stamp(...last);
      changed();
    });
    draw.addEventListener("pointermove", (e) => {
      if (!last) return;
      const p = at(e), steps = Math.max(1, Math.ceil(4 * Math.hypot(p[0] - last[0], p[1] - last[1])));
      for (let k = 1; k <= steps; k++) {
        stamp(last[0] + ((p[0] - last[0]) * k) / steps, last[1] + ((p[1] - last[1]) * k) / steps);
      }
      last = p;
      changed();
    });
    for (const type of ["pointerup", "pointercancel"]) draw.addEventListener(type, () => { last = null; });

    // ---- the page API (the browser test drives the page through it) ----------------------------
    const api = {
      ready: null,
      setDigit(values) {
        if (values.length !== N) throw new Error(`setDigit needs ${N} values, got ${values.length}`);
        state.digit = Float32Array.from(values);
        changed();
      },
      pickDigit(k) { api.setDigit(table.digits[k].pixels.map((b) => b / 255)); },
      setSigma(s) {
        const max = table ? table.max_sigma : 1;
        if (!(s > 0 && s <= max)) throw new Error(`sigma must lie in (0, ${max}]`);
        state.sigma = Number(s);
        $(".tip-sigma").value = String(s);
        changed();
      },
      setNoise(values) {
        if (values.length !== N) throw new Error(`setNoise needs ${N} values, got ${values.length}`);
        state.noise = Float32Array.from(values);
        changed();
      },
      setSeed(k) {
        state.seed = k >>> 0;
        state.noise = gaussianNoise(state.seed);
        changed();
      },
      result() {
        if (failed) return Promise.reject(failed);
        if (latest && done >= version) return Promise.resolve(latest);
        return new Promise((resolve, reject) => waiters.push({v: version, resolve, reject}));
      },
    };
    window.tinyddpmPage = api;

    // ---- start: the page's own files, then onnxruntime-web (pinned, WebAssembly, one thread) ----
    async function fetchOk(url) {
      const r = await fetch(url);
      if (!r.ok) throw new Error(`could not load ${url} (HTTP ${r.status})`);
      return r;
    }
    async function start() {
      if (typeof WebAssembly !== "object") throw new Error("this browser does not run WebAssembly");
      // the ES module build: a dynamic import() leaves the page's globals (and require.js) alone
    const [tableResponse, modelResponse] = await Promise.all([
        fetchOk(root.dataset.table), fetchOk(root.dataset.model),
        import(`${ortBase}ort.wasm.min.mjs`).then((m) => { ort = m; })]);
      table = await tableResponse.json();
      const model = await modelResponse.arrayBuffer();
      if (window.crypto && crypto.subtle) {  // the JSON's table belongs to this ONNX file
        const hash = [...new Uint8Array(await crypto.subtle.digest("SHA-256", model))]
          .map((b) => b.toString(16).padStart(2, "0")).join("");
        if (hash !== table.onnx_sha256) throw new Error("the ONNX file does not match its table");
      }
      ort.env.wasm.numThreads = 1;  // no SharedArrayBuffer, so no cross-origin isolation needed
      ort.env.wasm.wasmPaths = ortBase;
      session = await ort.InferenceSession.create(model, {executionProviders: ["wasm"]});
      $(".tip-T").textContent = String(table.T);
      $(".tip-model").textContent = `${table.model}, ${(model.byteLength / 1e6).toFixed(1)} MB`;
      const buttons = $(".tip-digits");
      table.digits.forEach((d, k) => {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = String(d.label);
        b.title = `bundled test digit ${d.index} (a ${d.label})`;
        b.addEventListener("click", () => api.pickDigit(k));
        buttons.appendChild(b);
      });
      status.textContent = "";
      if (!state.digit.some((v) => v > 0)) {  // nothing drawn yet: start from a bundled 2
        state.digit = Float32Array.from(table.digits[2].pixels, (b) => b / 255);
      }
      changed();
    }

    // wire the controls that work before the model is there, show the live part, then load
    $(".tip-clear").addEventListener("click", () => api.setDigit(new Float32Array(N)));
    $(".tip-reseed").addEventListener("click", () => api.setSeed(state.seed + 1));
    $(".tip-sigma").addEventListener("input", (e) => {
      state.sigma = Number(e.target.value);
      changed();
    });
    if (typeof WebAssembly === "object") {
      live.hidden = false;
      if (fallback) fallback.hidden = true;
      changed();
      api.ready = start();
      api.ready.catch(fail);
    } else {
      fail(new Error("this browser does not run WebAssembly"));
      api.ready = Promise.reject(failed);
      api.ready.catch(() => {});
    }
  }
})();
