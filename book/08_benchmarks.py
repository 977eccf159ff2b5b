# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Benchmarks

# %% tags=["colab-setup"]
# Colab setup: installs tinyddpm (this release, with the book's extras) and turns on Colab's
# widget manager when this notebook runs in Colab; does nothing elsewhere.
import subprocess
import sys

if "google.colab" in sys.modules:
    SPEC = "tinyddpm[book] @ git+https://github.com/tinyddpm/tinyddpm@v0.1.0"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", SPEC], check=True)
    from google.colab import output  # ipywidgets 8 (the playground's controls) need Colab's widget manager

    output.enable_custom_widget_manager()

# %% [markdown]
# The earlier chapters measured one idea at a time on the bundled test digits. This chapter
# puts every method side by side on the full MNIST test set: how close each denoised digit comes
# to the clean one, whether it is still the same digit, how the posterior mean compares with
# the strongest classical denoisers and with a network trained for one noise level only, what
# the student's procedure scores, and what sampling costs in distortion. Symbols are listed on
# the {doc}`notation` page. The numbers come from one command in this repository:
#
# ```bash
# pip install -e ".[bench]"
# python benchmarks/run.py            # writes src/tinyddpm/harness/results/
# python benchmarks/run.py --quick    # the same code on a few digits (the tests run it)
# ```
#
# The full run took {glue:text}`bench_minutes:.0f` minutes on the machine named below the next
# cell. It writes one JSON file per section (`bench_quality.json`, `bench_speed.json`,
# `bench_diffusers.json`, `bench_fid.json`) and a generated summary, `BENCHMARKS.md`, into the
# package's results folder, which ships with it (`tinyddpm.harness.book_data`), so the cells below read
# the same files in a clone, after `pip install` and in Colab. Nothing below is typed in by hand. How fast
# each method runs, in which float precision, the same network under 🤗 diffusers' schedulers,
# the training recipes that were compared and how long each chapter takes to run are on the
# {doc}`appendix_engineering` page.
#
# **Protocol.** Clean test digits $x \in [0, 1]$, $y = x + \sigma n$ with a fixed seed and *no
# clipping*; every method sees $y$ and the true $\sigma$ (except the blind variants, which
# estimate it). Fast methods run on all {glue:text}`n_test:,d` test digits; the multi-step
# samplers, which cost tens to hundreds of network evaluations per digit, run on a fixed subset
# of {glue:text}`n_s50:d` of them ({glue:text}`s50_per_class:d` per class, `s50`), and the blind
# and guided variants on the {glue:text}`n_s1000:,d` bundled digits (`s1000`). The sets are
# nested, so every method is also scored on `s50`. The classical denoisers (scikit-image's, and
# BM3D {cite}`dabov2007bm3d` where its optional package is installed) are tuned per $\sigma$ on
# {glue:text}`n_tune:d` *training* digits ({glue:text}`n_tune_bm3d:d` for BM3D, which is slow),
# never on test digits: one parameter each, and for non-local means two, the patch size and
# the filter strength $h$.

# %%
import matplotlib.pyplot as plt
from IPython.display import display
from myst_nb import glue

from tinyddpm.harness.book_data import HTMLTable, read_json
from tinyddpm.schedules import NoiseSchedule

quality = read_json("bench_quality.json")  # the results of benchmarks/run.py, shipped with the package
fid = read_json("bench_fid.json")
speed, versus = read_json("bench_speed.json"), read_json("bench_diffusers.json")  # for the run time
machine = speed["machine"]
print(f"machine: {machine['cpu']}, {machine['threads']} torch threads, torch {machine['torch']}")

# %% tags=["hide-input"]
sizes = quality["sizes"]
glue("bench_minutes", sum(d["section_seconds"] for d in (quality, speed, versus, fid)) / 60, display=False)
glue("n_test", quality["sets"]["test"], display=False)  # the whole test set: a count, not indices
glue("n_s50", len(quality["sets"]["s50"]), display=False)
glue("s50_per_class", sizes["s50_per_class"], display=False)
glue("n_s1000", len(quality["sets"]["s1000"]), display=False)
glue("n_tune", sizes["tune"], display=False)
glue("n_tune_bm3d", sizes["tune_bm3d"], display=False)
# how many digits each set holds, for the tables' and the figure's labels
n_digits = {"test": quality["sets"]["test"], "s1000": len(quality["sets"]["s1000"]), "s50": len(quality["sets"]["s50"])}

# %% [markdown]
# Each entry of `quality["rows"]` is one method at one noise level, scored on its own digit set
# and again on `s50`; the tables below are built from these entries (their cells are folded
# away, click to show them):

# %%
row = next(r for r in quality["rows"] if r["id"] == "posterior_mean" and r["sigma"] == "0.3")
print(row["method"], "at σ =", row["sigma"])
for key in ("images", "psnr", "ssim", "identity"):
    print(f"{key:>8}: {row[key]:>8} on {row['set']}, {row['s50'][key]:>8} on s50")

# %% [markdown]
# ## Denoising quality
#
# Mean per-image PSNR (dB) and the fraction of digits the package's classifier still reads as
# their true label ("identity"). Each method is scored on the digits in its "digits" column:
# `test` is all {glue:text}`n_test:,d` test digits, `s1000` the {glue:text}`n_s1000:,d` bundled
# ones, `s50` the {glue:text}`n_s50:d` of the fixed subset. The ★ marks, per $\sigma$, the
# classical method that was best on the held-out training digits: the fair "best classical"
# choice, made without looking at the test set.

# %% tags=["hide-input"]
rows = quality["rows"]
sigmas = list(quality["sigmas"])
methods = list(dict.fromkeys(r["id"] for r in rows))  # rows are looked up by id, shown by label
label = {r["id"]: r["method"] for r in rows}


def cell(row_id: str, key: str, fmt) -> str:
    r = next((r for r in rows if r["id"] == row_id and r["sigma"] == key), None)
    return "" if r is None else fmt(r)


def psnr_identity(r: dict) -> tuple[str, str]:
    return f"{r['psnr']:.2f}" + (" ★" if r.get("best_classical") else ""), f"{100 * r['identity']:.1f}"


header = ["method", "digits"] + [f"σ = {k}" for k in sigmas]
body = [[label[m], next(r["set"] for r in rows if r["id"] == m)] + [cell(m, k, psnr_identity) for k in sigmas]
        for m in methods]
display(HTMLTable(header, body, "PSNR (dB, first line) and identity kept (%, second line)"))


def row_of(row_id: str, key: str) -> dict:
    return next(r for r in rows if r["sigma"] == key and r["id"] == row_id)


best_05 = next(r for r in rows if r["sigma"] == "0.5" and r.get("best_classical"))
glue("pm_test_psnr_03", row_of("posterior_mean", "0.3")["psnr"], display=False)
glue("pm_test_id_05", row_of("posterior_mean", "0.5")["identity"], display=False)
glue("best_05_method", best_05["method"].removesuffix(" (tuned)"), display=False)
glue("best_05_set", f"{n_digits[best_05['set']]:,}", display=False)
glue("best_05_id", best_05["identity"], display=False)
glue("noisy_id_05", row_of("noisy", "0.5")["identity"], display=False)
diffusion = ("posterior_mean", "ddim_", "ancestral", "average")  # the rows that run the diffusion model
glue("dm_id_min", min(r["identity"] for r in rows if r["id"].startswith(diffusion)), display=False)

# %% [markdown]
# Read a column to compare methods at one noise level, a row to follow one method as the noise
# grows. The diffusion model's rows (the posterior mean, its variants and the samplers) keep at
# least {glue:text}`dm_id_min:.0%` of the digits' identities at every noise level; the classical
# denoisers keep fewer as the noise grows: at
# $\sigma = 0.5$ the best of them ({glue:text}`best_05_method`, scored on
# {glue:text}`best_05_set` digits) keeps {glue:text}`best_05_id:.0%` of them, the posterior mean
# {glue:text}`pm_test_id_05:.0%`, and the noisy input itself {glue:text}`noisy_id_05:.0%`.
#
# The same numbers as curves, for the methods the book is about. "Best classical" follows the
# ★ choice at each $\sigma$; the supervised U-Nets, each trained at one noise level, are single
# points. Each curve's label says how many digits it is scored on, and so does its line: solid
# for all test digits, dashed for the bundled digits, dotted for `s50`, dash-dotted where the ★
# choice changes set.

# %% tags=["hide-input"]
def series(pick) -> tuple[list[float], list[float], list[float], list[str]]:
    xs, ps, ids, sets = [], [], [], []
    for k, s in quality["sigmas"].items():
        r = next((r for r in rows if r["sigma"] == k and pick(r)), None)
        if r is not None and k != "50/255":
            xs.append(s), ps.append(r["psnr"]), ids.append(100 * r["identity"]), sets.append(r["set"])
    return xs, ps, ids, sets


curves = {
    "noisy input": lambda r: r["id"] == "noisy",
    "best classical (tuned)": lambda r: r.get("best_classical", False),
    "VAE": lambda r: r["id"] == "vae",
    f"fixed step {quality['fixed_step']}, unscaled": lambda r: r["id"] == "fixed_step",
    "posterior mean": lambda r: r["id"] == "posterior_mean",
    "posterior mean, blind": lambda r: r["id"] == "posterior_mean_blind",
    "DDIM, 10 steps": lambda r: r["id"] == "ddim_10",
    "ancestral sample": lambda r: r["id"] == "ancestral",
    "supervised U-Net": lambda r: r["id"].startswith("supervised_"),
}
line_of_set = {"test": "-", "s1000": "--", "s50": ":"}
# as wide as the book's text column (6.8 in at 100 dpi): its 10 pt text is not shrunk on the page
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6.8, 9), sharex=True)
for name, pick in curves.items():
    xs, ps, ids, sets = series(pick)
    used = list(dict.fromkeys(sets))  # the digit sets this curve is scored on, in order of σ
    label = f"{name}, {' or '.join(f'{n_digits[s]:,}' for s in used)} digits"
    style = "o" if name == "supervised U-Net" else "o" + (line_of_set[used[0]] if len(used) == 1 else "-.")
    ax1.plot(xs, ps, style, label=label, ms=5)
    ax2.plot(xs, ids, style, label=label, ms=5)
ax1.set(ylabel="mean PSNR (dB)", title="Distortion (higher is better)")
ax2.set(xlabel="noise level σ (pixel units)", ylabel="identity kept (%)",
        title="Identity (higher is better)")
for ax in (ax1, ax2):
    ax.grid(alpha=0.3)
    ax.tick_params(labelbottom=True)
fig.legend(*ax1.get_legend_handles_labels(), loc="lower center", ncol=2, frameon=False, fontsize=8.5)
fig.tight_layout(rect=(0, 0.15, 1, 1))
plt.show()
best_sets = {r["sigma"]: r for r in rows if r.get("best_classical") and r["sigma"] != "50/255"}
mixed = [k for k, r in best_sets.items() if r["set"] != "test"]
glue("best_other_set", "; ".join(f"{best_sets[k]['method'].removesuffix(' (tuned)')} at σ = {k} "
                                 f"on {n_digits[best_sets[k]['set']]:,} digits" for k in mixed) or "none", display=False)

# %% [markdown]
# The top panel is distortion, the bottom one identity. The curves on all
# {glue:text}`n_test:,d` test digits (noisy input, VAE, posterior mean, supervised U-Nets) and on
# the {glue:text}`n_s1000:,d` bundled digits (the blind posterior mean) are averages over many
# digits; the fixed-step and sampler curves, on {glue:text}`n_s50:d` digits, are noisier
# estimates. Where the
# ★ choice is a method that ran on fewer digits, its points are scored there
# ({glue:text}`best_other_set`). Curves on different digit sets do not compare to the last
# hundredth of a decibel; the next table puts every method on the same `s50` digits.

# %% tags=["hide-input"]
def is_pm(r: dict) -> bool:
    """The one-step posterior mean and its variants (blind: estimated sigma; guided: a label)."""
    return r["id"].startswith("posterior_mean")


body = []
for key in ("0.1", "0.3", "0.5"):
    at = [r for r in rows if r["sigma"] == key]
    best = next(r for r in at if r.get("best_classical"))
    body.append([f"σ = {key}", f"{row_of('posterior_mean', key)['s50']['psnr']:.2f}",
                 (f"{best['s50']['psnr']:.2f}", best["method"]), f"{row_of('vae', key)['s50']['psnr']:.2f}",
                 f"{row_of('fixed_step', key)['s50']['psnr']:.2f}"])
display(HTMLTable(["noise", "posterior mean", "best classical", "VAE", f"fixed step {quality['fixed_step']}"], body,
                   f"PSNR (dB), every method on the same {len(quality['sets']['s50'])} digits (s50)"))

# %% tags=["hide-input"]
# the claims of the next paragraph, computed: on s50 (the same digits for every method), how far
# every other method stays below the posterior mean, and how close its own variants come
margin, variant_gap, above = [], [], []
for key in sigmas:
    at = [r for r in rows if r["sigma"] == key]
    pm = row_of("posterior_mean", key)
    margin.append(pm["s50"]["psnr"] - max(r["s50"]["psnr"] for r in at if not is_pm(r)))
    variant_gap += [abs(r["s50"]["psnr"] - pm["s50"]["psnr"]) for r in at if is_pm(r)]
    above += [f"{r['method']} at σ = {key} ({r['set']})" for r in at if r["psnr"] > pm["psnr"]]
assert min(margin) > 0, "a method that is not a posterior mean beats it on s50: rewrite the prose"
glue("pm_margin_db", min(margin), display=False)
glue("pm_variant_gap_db", max(variant_gap), display=False)
glue("n_rows_above_pm", len(above), display=False)
glue("rows_above_pm", "; ".join(above), display=False)
# the fixed-step chain: the noise level of its start step, where it comes closest to the
# posterior mean, and what it does at the lowest noise level
start = quality["fixed_step"]
linear = NoiseSchedule.linear(300)
glue("original_start", start, display=False)
glue("original_T", linear.T, display=False)
glue("original_start_sigma", float(linear.sigma_from_t(start)) / 2, display=False)  # pixel units
gaps = {k: row_of("posterior_mean", k)["s50"]["psnr"] - row_of("fixed_step", k)["s50"]["psnr"]
        for k in sigmas if k != "50/255"}
closest = min(gaps, key=gaps.get)
glue("original_closest_sigma", float(closest), display=False)
glue("original_closest_gap_db", gaps[closest], display=False)
low = min((k for k in sigmas if k != "50/255"), key=float)
glue("low_sigma", float(low), display=False)
glue("original_low_db", row_of("fixed_step", low)["s50"]["psnr"], display=False)
glue("noisy_low_db", row_of("noisy", low)["s50"]["psnr"], display=False)
glue("original_low_effect", "adds noise" if row_of("fixed_step", low)["s50"]["psnr"]
     < row_of("noisy", low)["s50"]["psnr"] else "removes some noise", display=False)
# the supervised U-Nets against the posterior mean, each on all test digits at its own noise level
sup_gap = [row_of("posterior_mean", r["sigma"])["psnr"] - r["psnr"] for r in rows if r["id"].startswith("supervised_")]
glue("supervised_gap_db", max(sup_gap), display=False)

# %% [markdown]
# Three things stand out. **The one-step posterior mean has the least distortion.** Compared on
# the same digits (`s50`, as in this table and in the table of all methods on `s50` below), every other method's PSNR
# stays at least {glue:text}`pm_margin_db:.2f` dB below it at every noise level; only its own
# blind and guided variants, the same one-step posterior mean with an estimated $\sigma$ or a
# predicted label, come within {glue:text}`pm_variant_gap_db:.2f` dB of it, above or below. That
# is what Tweedie's formula says for a well-trained model: the posterior mean is the
# minimum-mean-squared-error estimate. In the first table {glue:text}`n_rows_above_pm:d` rows do
# show a higher PSNR than the posterior mean's row at the same $\sigma$
# ({glue:text}`rows_above_pm:s`): they are scored on other digits (their "digits" column), while
# the posterior mean's row covers the whole test set, so those rows do not compare.
#
# **A fixed start step** (the "fixed step" rows), which starts
# the chain at one hand-picked step and feeds the noisy image in unscaled, is what the student's
# procedure turns into when it meets a plain noisy image of unknown $\sigma$; it is not what the
# student ran (the next section measures that). It comes closest to the posterior mean, {glue:text}`original_closest_gap_db:.1f`
# dB below it, at $\sigma$ = {glue:text}`original_closest_sigma:.2f`, near the noise level its
# step happens to match (step {glue:text}`original_start:d` of the linear
# T = {glue:text}`original_T:d` schedule is $\sigma$ ≈ {glue:text}`original_start_sigma:.2f`).
# At the lowest noise level it {glue:text}`original_low_effect`: at $\sigma$ = {glue:text}`low_sigma:.2f` its output scores
# {glue:text}`original_low_db:.1f` dB, the noisy input itself {glue:text}`noisy_low_db:.1f` dB.
#
# **The supervised U-Nets**, the same network trained for one noise level only, land within
# {glue:text}`supervised_gap_db:.2f` dB of the diffusion model's posterior mean at their own noise
# level: one diffusion model does the job of a whole family of specialised denoisers.

# %% [markdown]
# ## Against the strongest classical denoisers
#
# A benchmark is only as honest as its weakest rival. BM3D {cite}`dabov2007bm3d` is the classical
# denoiser to beat, and non-local means {cite}`buades2005nlmeans` gets a wide grid here (patch
# sizes and strengths up to $2\sigma$). BM3D ran on the {glue:text}`n_s1000:,d` bundled digits
# (`s1000`), so this table compares the posterior mean with the stronger of the two on those
# digits:

# %% tags=["hide-input"]
lead = quality["lead_over_best_of_bm3d_nl_means"]
body = [[f"σ = {k}", f"{v['posterior_mean']:.2f}", v["strongest"].removesuffix(" (tuned)"),
         f"{v['strongest_psnr']:.2f}", f"{v['lead_db']:+.2f}"] for k, v in lead.items()]
display(HTMLTable(["noise", "posterior mean", "stronger rival", "its PSNR", "lead (dB)"], body,
                  f"mean PSNR (dB) on the same digits ({next(iter(lead.values()))['digits']}); "
                  f"classical methods here: {', '.join(quality['classical'])}"))
high = {k: v for k, v in lead.items() if k != "50/255" and float(k) >= 0.2}
glue("lead_min_high_db", min(v["lead_db"] for v in high.values()), display=False)
glue("lead_min_high_sigma", float(min(high, key=lambda k: high[k]["lead_db"])), display=False)
glue("lead_min_db", min(v["lead_db"] for v in lead.values()), display=False)
glue("lead_min_sigma", min(lead, key=lambda k: lead[k]["lead_db"]), display=False)

# %% [markdown]
# From $\sigma = 0.2$ up the lead is at least {glue:text}`lead_min_high_db:.2f` dB (smallest at
# $\sigma$ = {glue:text}`lead_min_high_sigma:.2f`); over all noise levels the smallest lead is
# {glue:text}`lead_min_db:.2f` dB, at $\sigma$ = {glue:text}`lead_min_sigma`. A classical
# denoiser assumes something general about images (similar patches recur, edges are sparse); the
# diffusion model has learned what digits look like, and the more noise there is, the more that
# knowledge is worth.

# %% [markdown]
# ## The student's recipe, measured
#
# `benchmarks/student.py` trains the student's recipe here (`tinyddpm.harness.student`: their U-Net at 3/8
# of its widths so that the weights ship, linear $T = 300$, L1 loss, Adam) for the wall time of
# the shipped model's first learning-curve point, and measures their procedure three ways on
# the same {glue:text}`student_digits:d` test digits: **(a)** on their own kind of input, $x_t$
# made by the forward process at the step equivalent to $\sigma$, the chain started at that
# step rounded down to ten, clamped after every step, as their code did; **(b)** on a plain
# noisy image $y = x + \sigma n$ fed their way, unscaled, from the step whose noise "looks"
# like $\sigma$ and from the matched step; **(c)** the same network driven the tinyddpm way,
# from $x_{t^*} = \sqrt{\bar\alpha_{t^*}}\,y$: one posterior-mean step, or ten DDIM steps.
# The student's network works on 32x32 digits: the noise is drawn at 32x32 on the resized digit
# and PSNR is measured there, against the resized digit; identity is the classifier's reading
# after resizing back to 28x28. The shipped model's row is at 28x28 on the same digits. The two
# resolutions do not compare dB for dB: the resized digits are smoother, and so easier to
# denoise.

# %% tags=["hide-input"]
student = read_json("student.json")
wide = student["wide_range"]  # σ = 1.0 and 2.0, for the shipped `student` network and the shipped ddpm only
settings = [("a_student_inputs", "(a) their inputs, their chain"), ("b_plain_by_eye", "(b) plain y, step by eye"),
            ("b_plain_matched", "(b) plain y, matched step"), ("c_posterior_mean", "(c) posterior mean"),
            ("c_ddim_10", "(c) DDIM, 10 steps")]
assert wide["model"] == "train", "the wide range rows extend the network trained on the training digits"
student_rows = student["models"]["train"]["rows"] + wide["rows"]
shipped_rows = student["shipped"] + wide["shipped"]
flips = {r["sigma"]: r for r in student["models"]["train_test_flips"]["rows"]}


def two_lines(r: dict) -> tuple[str, str]:
    return f"{r['psnr_32']:.2f}", f"{100 * r['identity']:.0f} %"


body = [[name] + [two_lines(r[key]) for r in student_rows] for key, name in settings]
body.append(["shipped model, posterior mean"] + [(f"{r['psnr']:.2f}", f"{100 * r['identity']:.0f} %")
                                                 for r in shipped_rows])
body.append(["(a), trained on train + test with flips"] + [
    two_lines(flips[r["sigma"]]["a_student_inputs"]) if r["sigma"] in flips else "not measured"
    for r in student_rows])
HTMLTable(["setting"] + [f"σ = {r['sigma']}" for r in student_rows], body,
          caption="PSNR (dB, first line; the student's rows at 32x32, the shipped model's at 28x28) and "
                  "identity (second line); the student's network trained on the training digits unless said otherwise")

# %% tags=["hide-input"]
glue("student_digits", student["digits"], display=False)
train_info = student["models"]["train"]["training"]
glue("student_minutes", train_info["wall_time_s"] / 60, display=False)
glue("student_steps", train_info["steps"], display=False)
glue("student_img_s", train_info["images_per_s"], display=False)
glue("student_ceiling_db", student["resize_ceiling"]["psnr"], display=False)
for r in student_rows:
    for key, _ in settings:
        glue(f"st_{key}_{r['sigma']}", r[key]["psnr_32"], display=False)
        glue(f"st_id_{key}_{r['sigma']}", r[key]["identity"], display=False)
    last = r["by_eye_step"] == linear.T - 1  # the student's linear T = 300 schedule
    glue(f"st_eye_{r['sigma']}", "the schedule's last step" if last else f"step {r['by_eye_step']}", display=False)
for r in shipped_rows:
    glue(f"st_shipped_{r['sigma']}", r["psnr"], display=False)
    glue(f"st_shipped_id_{r['sigma']}", r["identity"], display=False)
for r in flips.values():
    glue(f"st_flips_a_{r['sigma']}", r["a_student_inputs"]["psnr_32"], display=False)
low_rows = [r for r in student_rows if r["sigma"] <= 0.3]
glue("st_b_vs_a_low", max(abs(r["b_plain_by_eye"]["psnr_32"] - r["a_student_inputs"]["psnr_32"]) for r in low_rows),
     display=False)
r03 = next(r for r in student_rows if r["sigma"] == 0.3)
glue("st_c_minus_a_0.3", r03["c_posterior_mean"]["psnr_32"] - r03["a_student_inputs"]["psnr_32"], display=False)
flip_change = flips[0.3]["a_student_inputs"]["psnr_32"] - r03["a_student_inputs"]["psnr_32"]
glue("st_flips_change_0.3", abs(flip_change), display=False)
glue("st_flips_change_word", "raises" if flip_change > 0 else "lowers", display=False)
# the noise levels of the student's training draws, and how (c) compares with (a) at 1.0 and 2.0
draws = wide["draws"]
glue("draw_sigma_low", draws["sigma_at_low"], display=False)
glue("draw_sigma_high", draws["sigma_at_high"], display=False)
glue("draw_share_05", draws["share_above_0.5"], display=False)
glue("draw_share_10", draws["share_above_1.0"], display=False)
glue("draw_most", "most" if draws["share_above_0.5"] > 0.5 else "fewer than half", display=False)
c_above_a = [r["c_posterior_mean"]["psnr_32"] > r["a_student_inputs"]["psnr_32"] for r in wide["rows"]]
glue("wide_c_vs_a", "(c) scores more than (a) at both" if all(c_above_a) else
     "(c) scores less than (a) at both" if not any(c_above_a) else "(c) scores more than (a) at one of them only",
     display=False)
at_2 = [r[key]["identity"] for r in wide["rows"] if r["sigma"] == 2.0 for key, _ in settings]
glue("wide_id_max_2.0", max(at_2 + [r["identity"] for r in wide["shipped"] if r["sigma"] == 2.0]), display=False)

# %% [markdown]
# The student's network trained for {glue:text}`student_minutes:.1f` minutes
# ({glue:text}`student_steps:,d` steps, {glue:text}`student_img_s:.0f` images/s). Resizing alone,
# 28 to 32 and back, caps a clean digit at {glue:text}`student_ceiling_db:.1f` dB at 28x28, which
# is why the student's rows are measured at 32x32. The last row is the student's own data
# choice, train and test digits together with horizontal flips: it is measured on digits it was
# trained on.
#
# Read across a row of the table and down a column. On its own inputs (a), the student's chain
# scores {glue:text}`st_a_student_inputs_0.3:.2f` dB at σ = 0.3; fed plain noise their way (b),
# it stays within {glue:text}`st_b_vs_a_low:.2f` dB of (a) up to σ = 0.3, but at σ = 0.5, where
# the eye picks {glue:text}`st_eye_0.5`, it scores {glue:text}`st_b_plain_by_eye_0.5:.2f` dB and
# keeps the digit's identity in {glue:text}`st_id_b_plain_by_eye_0.5:.0%` of the digits. The same
# network driven the tinyddpm way (c) scores {glue:text}`st_c_posterior_mean_0.3:.2f` dB at
# σ = 0.3 in one step, {glue:text}`st_c_minus_a_0.3:.2f` dB more than (a): the same weights give
# both rows, so that difference is the procedure's: (a) runs the chain down to a posterior
# sample, (c) takes the posterior mean. Training on the test digits with flips
# {glue:text}`st_flips_change_word` (a) by {glue:text}`st_flips_change_0.3:.2f` dB at σ = 0.3
# (to {glue:text}`st_flips_a_0.3:.2f` dB), in a run of fewer steps: flipped twos, threes, fours
# and sevens are not digits, and what the model saw of the test set is not a measurement.
#
# **The student's whole range.** Their training drew $t$ uniformly on $50, \dots, 299$ of the
# linear $T = 300$ schedule: pixel $\sigma$ from {glue:text}`draw_sigma_low:.2f` to
# {glue:text}`draw_sigma_high:.2f`, and {glue:text}`draw_most` of those draws
# ({glue:text}`draw_share_05:.0%`) lie above σ = 0.5, {glue:text}`draw_share_10:.0%` above
# σ = 1.0. The last two columns test their procedure there. Only the shipped `student` network
# (trained on the training digits) and the shipped model were measured at σ = 1.0 and 2.0; the
# network trained on train + test with flips does not ship, so its row says "not measured". At
# σ = 1.0, their chain on their own inputs (a) scores {glue:text}`st_a_student_inputs_1.0:.2f`
# dB and keeps {glue:text}`st_id_a_student_inputs_1.0:.0%` of the identities, the posterior mean
# of the same network (c) {glue:text}`st_c_posterior_mean_1.0:.2f` dB and
# {glue:text}`st_id_c_posterior_mean_1.0:.0%`; at σ = 2.0, (a) scores
# {glue:text}`st_a_student_inputs_2.0:.2f` dB ({glue:text}`st_id_a_student_inputs_2.0:.0%`) and (c)
# {glue:text}`st_c_posterior_mean_2.0:.2f` dB ({glue:text}`st_id_c_posterior_mean_2.0:.0%`):
# {glue:text}`wide_c_vs_a`. The shipped model's posterior mean, at 28x28,
# scores {glue:text}`st_shipped_1.0:.2f` and {glue:text}`st_shipped_2.0:.2f` dB and keeps
# {glue:text}`st_shipped_id_1.0:.0%` and {glue:text}`st_shipped_id_2.0:.0%` of the identities.
# At σ = 2.0 the noise's standard deviation is twice the whole range of a pixel; the most any
# measured row keeps there is {glue:text}`wide_id_max_2.0:.0%` of the identities.

# %% [markdown]
# ## All methods on the same digits
#
# The samplers ran on `s50` only, so this is the table for comparing *them* with everything
# else: PSNR (dB) / SSIM, each cell on the same {glue:text}`n_s50:d` digits.

# %% tags=["hide-input"]
body = [[m] + [cell(m, k, lambda r: (f"{r['s50']['psnr']:.2f}", f"{r['s50']['ssim']:.3f}")) for k in sigmas]
        for m in methods]
display(HTMLTable(["method"] + [f"σ = {k}" for k in sigmas], body,
                   f"PSNR (dB, first line) and SSIM (second line) on the same {len(quality['sets']['s50'])} digits"))
top_ssim = {k: max((r for r in rows if r["sigma"] == k), key=lambda r: r["s50"]["ssim"]) for k in sigmas}
ssim_others = [f"{r['method']} at σ = {k}" for k, r in top_ssim.items() if not is_pm(r)]
glue("n_sigmas", len(sigmas), display=False)
glue("n_ssim_others", len(ssim_others), display=False)
glue("ssim_others", "; ".join(ssim_others) or "none", display=False)

# %% [markdown]
# In every column the highest PSNR belongs to the posterior mean or one of its variants (the
# margin computed above). SSIM, which compares local means, contrasts and correlations in small
# windows instead of squared error, can rank methods differently: in
# {glue:text}`n_ssim_others:d` of the {glue:text}`n_sigmas:d` columns another method has the
# highest SSIM ({glue:text}`ssim_others`). A method with more squared error can still keep a
# stroke's local structure as well as, or better than, the smoother posterior mean; which one
# is "best" depends on the measure.

# %% [markdown]
# ## The Soltanayev & Chun protocol (σ = 50/255)
#
# Soltanayev and Chun {cite}`soltanayev2018sure` report {glue:text}`sda_db:.2f` dB on MNIST at
# σ = 50/255 for a stacked denoising autoencoder trained with clean targets, with outputs
# quantised to `uint8` and the PSNR computed from the MSE pooled over the whole set. The same
# protocol here:

# %% tags=["hide-input"]
glue("sda_db", quality["soltanayev_sda_db"], display=False)
body = [[r["method"], r["set"], f"{r['psnr_pooled_uint8']:.2f}"] for r in rows if r["sigma"] == "50/255"]
display(HTMLTable(["method", "digits", "pooled PSNR, uint8 output (dB)"], body,
                   f"σ = 50/255. Their stacked denoising autoencoder: {quality['soltanayev_sda_db']} dB"))
sc_pm = row_of("posterior_mean", "50/255")["psnr_pooled_uint8"]
sc_classical = max((r for r in rows if r["sigma"] == "50/255" and r["id"].startswith("classical_")),
                   key=lambda r: r["psnr_pooled_uint8"])
glue("sc_pm_db", sc_pm, display=False)
glue("sc_pm_diff", abs(sc_pm - quality["soltanayev_sda_db"]), display=False)
glue("sc_pm_word", "above" if sc_pm > quality["soltanayev_sda_db"] else "below", display=False)
glue("sc_classical", sc_classical["method"].removesuffix(" (tuned)"), display=False)
glue("sc_classical_db", sc_classical["psnr_pooled_uint8"], display=False)
glue("sc_classical_word", "above" if sc_classical["psnr_pooled_uint8"] > quality["soltanayev_sda_db"] else "below",
     display=False)

# %% [markdown]
# By their protocol, on all {glue:text}`n_test:,d` test digits, the posterior mean scores
# {glue:text}`sc_pm_db:.2f` dB, {glue:text}`sc_pm_diff:.2f` dB {glue:text}`sc_pm_word` their
# autoencoder, which was trained for this one noise level; the best classical denoiser by the same
# measure, {glue:text}`sc_classical`, scores {glue:text}`sc_classical_db:.2f` dB,
# {glue:text}`sc_classical_word` it. Their number is quoted from their paper, not rerun here: it
# compares as far as their test digits, noise and rounding match this protocol.

# %% [markdown]
# ## Perception and distortion
#
# Chapter 5 predicted that, for an exact model, a sample from the posterior has twice the
# posterior mean's squared error, and the average of $K$ samples $1 + 1/K$ times it
# {cite}`blau2018perception`. Measured on `s50`:

# %% tags=["hide-input"]
pd = quality["perception_distortion"]
keys = [k for k in pd if k != "50/255"]
xs = [quality["sigmas"][k] for k in keys]
plt.figure(figsize=(6.8, 4.5))
plt.plot(xs, [pd[k]["ancestral_over_pm"] for k in keys], "o-", label="ancestral sample")
plt.plot(xs, [pd[k]["average_over_pm"] for k in keys], "s-", label="average of 8 samples")
plt.plot(xs, [pd[k]["ddim10_over_pm"] for k in keys], "^-", label="DDIM, 10 steps (deterministic)")
plt.axhline(2.0, color="k", ls="--", lw=1, label="exact model: sample (2)")
plt.axhline(1.125, color="gray", ls=":", lw=1, label="exact model: average of 8 (1.125)")
plt.xlabel("noise level σ (pixel units)")
plt.ylabel("MSE / MSE of the posterior mean")
plt.title(f"On the same {len(quality['sets']['s50'])} digits (s50)")
plt.legend()
plt.grid(alpha=0.3)
plt.show()
for k in keys:
    print(f"σ = {k:>4}: sample / posterior mean = {pd[k]['ancestral_over_pm']:.2f}, "
          f"average of 8 / posterior mean = {pd[k]['average_over_pm']:.2f}")

# %% tags=["hide-input"]
import math


def side_of(values: list[float], exact: float) -> str:
    """Where measured ratios lie against the exact model's value, in words."""
    return "below" if max(values) < exact else "above" if min(values) > exact else "on both sides of"


sample, average, ddim = ([pd[k][f] for k in keys] for f in ("ancestral_over_pm", "average_over_pm", "ddim10_over_pm"))
glue("pd_sample_min", min(sample), display=False)
glue("pd_sample_max", max(sample), display=False)
glue("pd_sample_side", side_of(sample, pd[keys[0]]["theory_sample"]), display=False)
glue("pd_average_min", min(average), display=False)
glue("pd_average_max", max(average), display=False)
glue("pd_average_side", side_of(average, pd[keys[0]]["theory_average"]), display=False)
glue("pd_ddim_min", min(ddim), display=False)
glue("pd_ddim_max", max(ddim), display=False)
glue("pd_sample_03", pd["0.3"]["ancestral_over_pm"], display=False)
glue("pd_sample_03_db", 10 * math.log10(pd["0.3"]["ancestral_over_pm"]), display=False)

# %% [markdown]
# The dashed and dotted lines are the exact model's predictions, the markers the measurements.
# A single ancestral sample costs {glue:text}`pd_sample_min:.2f` to
# {glue:text}`pd_sample_max:.2f` times the posterior mean's squared error,
# {glue:text}`pd_sample_side` the exact model's $2$; the average of 8 samples
# {glue:text}`pd_average_min:.2f` to {glue:text}`pd_average_max:.2f` times,
# {glue:text}`pd_average_side` its $1 + 1/8$. For a sampler whose samples scatter around the
# model's own posterior mean, the ratio is $1$ plus the samples' spread divided by the posterior
# mean's error, so a ratio below $2$ says that the samples spread less around the posterior mean
# than the posterior mean's own error. DDIM with 10 steps, deterministic, costs
# {glue:text}`pd_ddim_min:.2f` to {glue:text}`pd_ddim_max:.2f` times: it gives one sharp digit
# per noisy image, not a draw from the posterior. The price of a realistic-looking sample is distortion; the posterior mean has the
# least distortion and looks smoother {cite}`blau2018perception`.

# %% [markdown]
# ## Sample quality
#
# Generating digits from pure noise is not this book's job, but it is the same network, and a
# denoiser that generates good digits has learned the data distribution. The Fréchet distance
# between the package classifier's penultimate-layer features of generated digits and of the
# {glue:text}`n_test:,d` test digits ("classifier-feature FID") measures it; the same distance for real
# *training* digits is the floor, what a perfect generator would score with that many digits.
# FID is biased upward for small sets, so only rows with the same number of digits compare.

# %% tags=["hide-input"]
body = [[name, f"{r['fid']:.2f}", " ".join(map(str, r["class_counts"])), f"{r['class_tv_from_uniform']:.3f}"]
        for name, r in fid["runs"].items()]
display(HTMLTable(["run", "FID", "class counts 0-9", "total variation from uniform"], body))
n_fid = sizes["fid"]
floor = fid["runs"][f"training digits (floor), n={n_fid}"]["fid"]
glue("fid_n", n_fid, display=False)
glue("fid_floor", floor, display=False)
glue("fid_uncond_ratio", fid["targets"]["unconditional_ddim50_over_floor"], display=False)
glue("fid_g1_ratio", fid["runs"][f"DDIM 50 steps, class label, guidance 1, n={n_fid}"]["fid"] / floor, display=False)
glue("fid_guided_ratio", fid["targets"]["guided_ddim50_over_floor"], display=False)
glue("fid_uncond_dev", fid["targets"]["unconditional_max_class_deviation"], display=False)

# %% tags=["hide-input"]
# the labelled runs by guidance scale: g = 1 (the label alone) and the guided one
labelled = {float(k.split("guidance ")[1].split(",")[0]): r for k, r in fid["runs"].items() if "guidance" in k}
g_max = max(labelled)
glue("fid_uncond", fid["runs"][f"DDIM 50 steps, n={n_fid}"]["fid"], display=False)
glue("fid_g1", labelled[1.0]["fid"], display=False)
glue("fid_g", g_max, display=False)
glue("fid_guided", labelled[g_max]["fid"], display=False)
glue("fid_guidance_cmp", "raises" if labelled[g_max]["fid"] > labelled[1.0]["fid"] else "lowers", display=False)
glue("fid_g1_tv", labelled[1.0]["class_tv_from_uniform"], display=False)
glue("fid_guided_tv", labelled[g_max]["class_tv_from_uniform"], display=False)

# %% [markdown]
# With {glue:text}`fid_n:,d` digits the floor is {glue:text}`fid_floor:.1f`. Unconditional DDIM-50
# samples score {glue:text}`fid_uncond:.1f`, {glue:text}`fid_uncond_ratio:.1f` times the floor,
# and their most over- or under-generated class is off uniform by
# {glue:text}`fid_uncond_dev:.0%`. The same network asked for a class scores
# {glue:text}`fid_g1:.1f` ({glue:text}`fid_g1_ratio:.1f` times the floor) without guidance,
# $g = 1$. Guidance with $g$ = {glue:text}`fid_g:g` {glue:text}`fid_guidance_cmp` the FID to
# {glue:text}`fid_guided:.1f` ({glue:text}`fid_guided_ratio:.1f` times the floor), while the
# class counts' total variation from uniform goes from {glue:text}`fid_g1_tv:.3f` to
# {glue:text}`fid_guided_tv:.3f`. FID compares the whole spread of features, not only whether
# each digit has the right class: guidance makes each sample more typical of its class, and
# when that leaves the samples less varied than real digits, FID rises. Ho and Salimans
# {cite}`ho2022cfg` describe the same trade between a sample's fidelity to its class and the
# samples' diversity. The unconditional samples come from the null-label path, the same path
# that denoises when no label is given, and training shows the null label only on the share
# `p_uncond` of its batches (chapter 7); the {doc}`appendix_engineering` page compares training
# recipes that show it more often.

# %% [markdown]
# ## Reproducing and extending
#
# Every number above comes from `benchmarks/run.py` and the shipped models; rerunning it on a
# different machine changes the timings (on the {doc}`appendix_engineering` page) and nothing
# else, since all noise is seeded. To add a method, add one line to the `methods` table in
# `quality()`: a function from the noisy digits and $\sigma$ to denoised digits.

# %% [markdown]
# ## What to take away
#
# - On the same digits, the one-step posterior mean has the least distortion of all methods:
#   every other method stays at least {glue:text}`pm_margin_db:.2f` dB below it at every noise
#   level, and a supervised U-Net trained for one noise level lands within
#   {glue:text}`supervised_gap_db:.2f` dB of it.
# - Against BM3D and non-local means its lead is at least {glue:text}`lead_min_high_db:.2f` dB
#   from $\sigma = 0.2$ up: a model of digits beats general assumptions about images.
# - The student's network, driven from the matched step to the posterior mean (c), scores
#   {glue:text}`st_c_minus_a_0.3:.2f` dB more than their own procedure (a) at σ = 0.3, with the
#   same weights; at σ = 1.0 and 2.0, {glue:text}`wide_c_vs_a`.
# - A posterior sample costs {glue:text}`pd_sample_min:.2f` to {glue:text}`pd_sample_max:.2f`
#   times the posterior mean's squared error (an exact model: $2$); it buys realism, not accuracy.
# - A class label brings the generated digits' FID from {glue:text}`fid_uncond:.1f` to
#   {glue:text}`fid_g1:.1f`; guidance ($g$ = {glue:text}`fid_g:g`) {glue:text}`fid_guidance_cmp`
#   it to {glue:text}`fid_guided:.1f`.

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** (pen and paper) PSNR is $10 \log_{10}(1/\mathrm{MSE})$. For an exact model a
# posterior sample has twice the posterior mean's squared error, and the average of $K$ samples
# $1 + 1/K$ times it. How many decibels below the posterior mean does each land? What does the
# measured ratio at σ = 0.3, {glue:text}`pd_sample_03:.2f`, predict?
#
# ```{admonition} Solution
# :class: dropdown
# A ratio $r$ of squared errors is a difference of $10 \log_{10} r$ dB. A sample:
# $10 \log_{10} 2 \approx 3.01$ dB below the posterior mean. The average of $K = 8$ samples:
# $10 \log_{10}(1 + 1/8) \approx 0.51$ dB. The measured ratio {glue:text}`pd_sample_03:.2f`
# predicts {glue:text}`pd_sample_03_db:.2f` dB (a ratio below $2$, a gap below $3.01$ dB, means
# that the samples spread less than an exact model's would). The tables' PSNR is a mean of per-image PSNRs, not $10 \log_{10}$ of the mean
# squared error, so their gaps differ slightly from these (Exercise 2).
# ```
#
# **Exercise 2.** (code) From `quality["rows"]`, compute at each noise level the PSNR gap on
# `s50` between the posterior mean and the ancestral sample, and compare it with
# $10 \log_{10}$ of the ratio `quality["perception_distortion"][k]["ancestral_over_pm"]`. Why are
# the two close but not equal?

# %% tags=["hide-input", "solution"]
import math

for k, v in quality["perception_distortion"].items():
    gap = row_of("posterior_mean", k)["s50"]["psnr"] - row_of("ancestral", k)["s50"]["psnr"]
    print(f"σ = {k:>6}: gap of mean PSNRs {gap:.2f} dB, 10 log10(ratio of MSEs) {10 * math.log10(v['ancestral_over_pm']):.2f} dB")
# Not equal: the table's PSNR averages 10 log10(1/MSE) over the digits, one per digit, while the
# ratio divides squared errors pooled over all digits; the mean of a logarithm is not the
# logarithm of the mean (Jensen's inequality), and the two differ by how unevenly the error spreads.
