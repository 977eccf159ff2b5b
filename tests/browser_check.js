// Runs inside each built page (tests/test_browser.py) after the load event; returns JSON facts
// about the rendered DOM. Python decides what passes; this script only measures.
(async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const within = (p, ms) => Promise.race([p, sleep(ms)]);

  // images: load the lazy ones too, then wait (bounded) for every one to finish or fail
  for (const img of document.images) img.loading = "eager";
  await within(Promise.all([...document.images].map((img) => img.complete ? null
    : new Promise((r) => { img.addEventListener("load", r); img.addEventListener("error", r); }))), 20000);

  // MathJax (the local v2 the test serves): wait until its first typesetting pass has ended
  const mathNodes = document.querySelectorAll("article .math");
  const mathjax = !!(window.MathJax && window.MathJax.Hub);
  if (mathjax) await within(new Promise((r) => MathJax.Hub.Register.StartupHook("End", r)), 30000);
  const rendered = document.querySelectorAll(
    "article .MathJax_CHTML, article .MathJax, article mjx-container");
  const errors = [...document.querySelectorAll(
    ".mjx-merror, .merror, .MathJax_Error, mjx-merror, [data-mjx-error]")]
    .map((e) => (e.closest(".math") || e).textContent.slice(0, 200));
  if (document.body.innerText.includes("Math Processing Error")) errors.push("Math Processing Error");

  const article = document.querySelector("article.bd-article") || document.querySelector("article");
  const cs = getComputedStyle(article);
  const box = article.getBoundingClientRect();
  const column = {left: box.left + parseFloat(cs.paddingLeft),
                  right: box.right - parseFloat(cs.paddingRight)};

  // visible prose and outputs, without code inputs, code blocks in prose and typeset math
  // and without the API page's signatures and the bars of its type unions (int | None)
  const hide = [...article.querySelectorAll(
    ".cell_input, div[class*='highlight-']:not(.cell_output *), .math, .MathJax_Preview, .MathJax_CHTML, "
    + "mjx-container, dl.py > dt")].concat([...article.querySelectorAll("dl.field-list em")]
    .filter((e) => /^[\s\[\]]*\|[\s\[\]]*$/.test(e.textContent)));
  const saved = hide.map((e) => e.style.display);
  hide.forEach((e) => { e.style.display = "none"; });
  // a line with three or more table bars is a table that did not become a <table>. Not bars: a
  // norm's double bars (|| x ||) and a bar inside a token (alpha_{t|s}); a bar is a table bar
  // when it starts or ends the line or touches a space or a dash (| a | b |, |---|---|)
  const isBar = (line, i) => [line[i - 1], line[i + 1]]
    .some((c) => c === undefined || /[\s\-\u2013\u2014:]/.test(c));
  const bars = (line) => [...line].filter((c, i) => c === "|" && isBar(line, i)).length;
  const pipeLines = article.innerText.split("\n").filter((line) => bars(line.replaceAll("||", "  ")) >= 3);
  hide.forEach((e, i) => { e.style.display = saved[i]; });

  // output blocks: nothing may stick out of the text column, and nothing may scroll sideways
  // unless its cell is tagged to scroll (myst-nb writes cell tags as classes tag_<name>)
  const wide = [];
  for (const out of article.querySelectorAll(".cell_output")) {
    const cell = out.closest(".cell");
    const byDesign = !!cell && /\btag_(output_scroll|scroll-output)\b/.test(cell.className);
    for (const el of [out, ...out.querySelectorAll("*")]) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      const what = el.tagName.toLowerCase() + (el.className && typeof el.className === "string"
        ? "." + el.className.trim().split(/\s+/).join(".") : "");
      const text = (el.innerText || el.getAttribute("alt") || "").trim().slice(0, 80);
      if (r.left < column.left - 1 || r.right > column.right + 1) {
        if (!byDesign) wide.push({what, text, left: r.left, right: r.right, kind: "sticks out"});
        break;
      }
      const ox = getComputedStyle(el).overflowX;
      if (el.scrollWidth > el.clientWidth + 1 && (ox === "auto" || ox === "scroll") && !byDesign) {
        wide.push({what, text, scrollWidth: el.scrollWidth, clientWidth: el.clientWidth, kind: "scrolls"});
        break;
      }
    }
  }

  return {
    title: document.title,
    column,
    tables: article.querySelectorAll("table").length,
    pipeLines,
    images: [...document.images].map((img) => ({
      src: img.getAttribute("src"), naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
      width: img.getBoundingClientRect().width, inArticle: article.contains(img)})),
    math: {nodes: mathNodes.length, rendered: rendered.length, mathjax, errors},
    wide,
    colab: [...document.querySelectorAll("a[href*='colab.research.google.com']")].map((a) => a.href),
  };
})()
