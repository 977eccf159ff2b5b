# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Keeping the digit

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
# Chapter 5 showed the failure cases of denoising: at strong noise the posterior mean sometimes
# returns a clean, confident digit of the *wrong* class. For a digit, that is the one error that
# matters more than any number of decibels. This chapter asks how much of it a label can prevent.
# Symbols are listed on the {doc}`notation` page.
#
# The shipped model is class-conditional. During training each digit's label was replaced by a
# "null" label {glue:text}`null_share`, so the one network answers two questions: $\epsilon_\theta(x_t,
# t, c)$, the noise in $x_t$ if the digit is of class $c$, and $\epsilon_\theta(x_t, t, \varnothing)$, the
# noise in $x_t$ whatever the digit is. Classifier-free guidance {cite}`ho2022cfg` combines them
# with a scale $g$:
#
# $$ \tilde\epsilon = \epsilon_\theta(x_t, t, \varnothing) + g\,\big(\epsilon_\theta(x_t, t, c) - \epsilon_\theta(x_t, t, \varnothing)\big). $$
#
# $g = 0$ ignores the label, $g = 1$ is the plain conditional model, $g > 1$ pushes further in the
# label's direction. (Ho and Salimans write the same thing with $w = g - 1$.) In the code the
# label is `label` and $y$ stays what it is in the rest of the book, the noisy image. The
# package's version:
#
# ```{literalinclude} ../src/tinyddpm/samplers.py
# :pyobject: guided_eps
# ```

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import display
from myst_nb import glue

import tinyddpm
from tinyddpm.harness.book_data import HTMLTable
from tinyddpm.checkpoint import load_model, pretrained_path
from tinyddpm.harness.evaluate import noisy_set
from tinyddpm.metrics import identity_accuracy, predict_labels, psnr

# %% [markdown]
# Why does this work? The noise prediction is a scaled score,
# $\epsilon_\theta(x_t, t, c) \approx -\sqrt{1-\bar\alpha_t}\,\nabla_{x_t} \log p(x_t \mid c)$, and by
# Bayes' rule $\log p(x_t \mid c) = \log p(x_t) + \log p(c \mid x_t) + \text{const}$. So the
# difference $\epsilon_\theta(x_t, t, c) - \epsilon_\theta(x_t, t, \varnothing)$ is (up to that scale)
# the gradient of an *implicit classifier* $\log p(c \mid x_t)$, learned for free by the same
# network, and $g$ raises that classifier's vote to the power $g$: $\tilde\epsilon$ is the scaled
# score of $p(x_t)\,p(c \mid x_t)^g$.
#
# The judge of identity is the small MNIST classifier shipped with the package. It reads
# {glue:text}`clean_accuracy:.1%` of the clean bundled test digits correctly, so when it
# disagrees with the label of a *denoised* digit, the denoiser has almost always changed the
# digit:

# %%
model, schedule = tinyddpm.pretrained("ddpm")
classifier, _ = tinyddpm.pretrained("classifier")
x, labels = tinyddpm.load_sample()  # 1,000 test digits, 100 per class
accuracy = identity_accuracy(classifier, x, labels)
print(f"classifier on the clean digits: {100 * accuracy:.1f}% correct")

# %% tags=["hide-input"]
glue("clean_accuracy", accuracy, display=False)
ddpm_info = load_model(pretrained_path("ddpm"))[2]  # how the shipped model was trained
share = f"{ddpm_info['train_config']['p_uncond']:.0%}"
if "init_run" in ddpm_info:  # a fine-tune: the run it continued had its own share
    share = f"{ddpm_info['init_run']['train_config']['p_uncond']:.0%} of the time ({share} in the last " \
            f"{ddpm_info['steps']:,} steps)"
else:
    share = f"{share} of the time"
glue("null_share", share, display=False)

# %% [markdown]
# ## Guidance for the posterior mean is a straight line
#
# For one-step denoising there is a shortcut worth seeing. The posterior mean is an affine
# function of the noise prediction, $\hat x_0 = (x_{t^*} - \sqrt{1-\bar\alpha_{t^*}}\,\tilde\epsilon)/\sqrt{\bar\alpha_{t^*}}$,
# and the guidance weights $1 - g$ and $g$ sum to one, so guidance carries straight over to the
# denoised images:
#
# $$ \hat x_0(g) = \hat x_0^{\varnothing} + g\,\big(\hat x_0^{c} - \hat x_0^{\varnothing}\big), $$
#
# followed by the clip to $[0, 1]$ (which is why the two ingredients are computed with
# `clip=False`). Two network evaluations per image, without and with the label, give every
# guidance scale. Checked against the package's guided `denoise` on a few digits:

# %%
s = 0.5
y = noisy_set(x[:16], s)
x_null = tinyddpm.denoise(y, s, model=model, schedule=schedule, clip=False)  # no label
x_cond = tinyddpm.denoise(y, s, model=model, schedule=schedule, label=labels[:16], clip=False)  # g = 1
for g in (2.0, 3.0):
    package = tinyddpm.denoise(y, s, model=model, schedule=schedule, label=labels[:16], guidance=g)
    line = (x_null + g * (x_cond - x_null)).clamp(0, 1)
    same = bool(torch.allclose(line, package, atol=1e-5))
    print(f"g = {g:.0f}: the straight line equals denoise(..., guidance={g:.0f}) to 1e-5: {same}")

# %% tags=["hide-input"]
per_class = 50  # half of the bundled digits: the chapter stays within minutes on two CPU cores
keep = torch.cat([torch.nonzero(labels == c).flatten()[:per_class] for c in range(10)]).sort().values
x, labels = x[keep], labels[keep]
glue("n_digits", len(x), display=False)
glue("per_class", per_class, display=False)

# %% [markdown]
# ## The experiment
#
# For each noise level, the fixed noisy versions of {glue:text}`n_digits:d` bundled digits
# ({glue:text}`per_class:d` of each class) are denoised with the one-step posterior mean, without
# a label and guided by one of three labels:
#
# - the **true label**: the upper bound, available only when the label comes from outside the
#   image (a form's printed field, a check digit, a person);
# - a label **predicted from the noisy image** by the classifier;
# - a label predicted by the classifier from the **unguided posterior mean**: denoise first,
#   read the digit, then denoise again with that label.
#
# In code, the three labels for a batch of noisy images `y`, given their unguided posterior means:

# %%
def guesses(y, unguided):
    """The true label, and the classifier's readings of y and of its posterior mean."""
    return {"true label": labels,
            "from noisy image": predict_labels(classifier, y),
            "from posterior mean": predict_labels(classifier, unguided)}


# %% [markdown]
# Two shortcuts keep this fast, and neither changes a result. The straight line above gives
# every guidance scale from two evaluations. And the posterior mean is deterministic and
# computed image by image, so wherever a predicted label equals the true label, the guided
# result *is* the true-label result; the network only runs again for the images whose
# predicted label is wrong,

# %%
def conditional(y, s, lab, x_true):
    """g = 1 posterior means (unclipped) for labels `lab`, given the true labels' ones."""
    out, wrong = x_true.clone(), lab != labels
    if wrong.any():
        out[wrong] = tinyddpm.denoise(y[wrong], s, model=model, schedule=schedule,
                                      label=lab[wrong], clip=False)
    return out


# %% [markdown]
# and the classifier only reads those again:

# %%
def reading(out, lab, true_read=None):
    """The classifier's reading of guided `out`; where `lab` is right, `true_read`."""
    if true_read is None:
        return predict_labels(classifier, out)
    read, wrong = true_read.clone(), lab != labels
    if wrong.any():
        read[wrong] = predict_labels(classifier, out[wrong])
    return read


# %% [markdown]
# The whole experiment, three noise levels and three guidance scales:

# %%
sigmas, scales = (0.3, 0.5, 0.75), (1.0, 2.0, 3.0)
mean, runs = dict(model=model, schedule=schedule, clip=False), {}  # runs: sigma -> results
for s in sigmas:
    y = noisy_set(x, s)
    x_null = tinyddpm.denoise(y, s, **mean)  # no label
    x_true = tinyddpm.denoise(y, s, label=labels, **mean)  # the true label, g = 1
    labs = guesses(y, x_null.clamp(0, 1))
    cond, guided, reads = {}, {}, {}
    for src, lab in labs.items():  # the true label first: the others reuse its results
        cond[src] = conditional(y, s, lab, x_true)
        for g in scales:  # the straight line gives every scale
            guided[src, g] = (x_null + g * (cond[src] - x_null)).clamp(0, 1)
            reads[src, g] = reading(guided[src, g], lab, reads.get(("true label", g)))
    runs[s] = dict(y=y, x_null=x_null, cond=cond, predicted=labs, guided=guided,
                   reads=reads)

# %% tags=["hide-input"]
def n_flips(read: torch.Tensor) -> int:
    """How many of the digits the classifier does not read as their label."""
    return int((read != labels).sum())


def rate(k: int, n: int) -> str:
    """A count of digits as a rate with its denominator: '3 of 500 (0.6 %)'."""
    return f"{k} of {n:,} ({100 * k / n:.1f} %)" if n else f"{k} of 0"


def mean_psnr(out: torch.Tensor) -> float:
    return float(psnr(out, x).mean())


for r in runs.values():  # the unguided posterior mean and its reading (= the third label)
    r["unguided"], r["unguided reads"] = r["x_null"].clamp(0, 1), r["predicted"]["from posterior mean"]
columns = [f"σ = {s}" for s in sigmas]
guess = {src: [len(x) - n_flips(r["predicted"][src]) for r in runs.values()]
         for src in ("from noisy image", "from posterior mean")}
display(HTMLTable(["label guessed", *columns], [[src, *(rate(a, len(x)) for a in acc)] for src, acc in guess.items()],
                  "guessed labels that are right (of the digits at each noise level)"))
table = {}  # row name -> per sigma (flips, PSNR) at g = 1
for name, get in [("no guidance", lambda r: (r["unguided reads"], r["unguided"]))] + [
    (f"guided, {src}", lambda r, src=src: (r["reads"][src, 1.0], r["guided"][src, 1.0]))
    for src in ("true label", "from noisy image", "from posterior mean")
]:
    table[name] = [(n_flips(read), mean_psnr(out)) for read, out in map(get, runs.values())]
display(HTMLTable(["g = 1", *columns],
                  [[name, *((rate(f, len(x)), f"{p:.2f} dB") for f, p in cells)] for name, cells in table.items()],
                  "identity flips (first line: digits not read as their label) and mean PSNR"))

# the claims of the next paragraphs, computed
at = {s: i for i, s in enumerate(sigmas)}
none, true = table["no guidance"], table["guided, true label"]
noisy, post = table["guided, from noisy image"], table["guided, from posterior mean"]
assert none[0][0] < none[-1][0] and none[1][0] < none[-1][0]  # most flips at the strongest noise
assert all(t[0] <= n[0] and t[1] > n[1] for t, n in zip(true, none))  # true label: fewer flips, more PSNR
assert all(p[0] == n[0] for p, n in zip(post, none))  # label from the posterior mean: same flips
for s in sigmas:
    k = str(s).replace(".", "")
    glue(f"flip_none_{k}", rate(none[at[s]][0], len(x)), display=False)
    glue(f"flip_true_{k}", rate(true[at[s]][0], len(x)), display=False)
    glue(f"flip_noisy_{k}", rate(noisy[at[s]][0], len(x)), display=False)
    wrong = runs[s]["predicted"]["from noisy image"] != labels  # digits guided by a wrong label
    glue(f"guess_noisy_wrong_{k}", rate(int(wrong.sum()), len(x)), display=False)
    glue(f"n_wrong_{k}", int(wrong.sum()), display=False)
    won = int((runs[s]["reads"]["from noisy image", 1.0] != labels)[wrong].sum())  # the wrong label won
    glue(f"wrong_won_{k}", rate(won, int(wrong.sum())), display=False)
glue("true_psnr_gain_max", max(t[1] - n[1] for t, n in zip(true, none)), display=False)
loss = none[at[0.5]][1] - noisy[at[0.5]][1]
glue("noisy_psnr_loss_05", abs(loss), display=False)
glue("noisy_psnr_word_05", "costs" if loss > 0 else "gains", display=False)
a, b = none[at[0.5]][0], noisy[at[0.5]][0]
glue("noisy_flip_ratio_05", f"{b / a:.1f} times as many" if a else "flips where there were none", display=False)
a, b = none[at[0.75]][0], noisy[at[0.75]][0]
glue("noisy_flip_ratio_075", f"{b / a:.1f} times as many" if a else "flips where there were none", display=False)
glue("post_psnr_gain_max", max(p[1] - n[1] for p, n in zip(post, none)), display=False)

# %% [markdown]
# The first table says how good the two guesses are; the second what guidance makes of them.
#
# **Without guidance** flips are rare at the two lower noise levels ({glue:text}`flip_none_03`
# and {glue:text}`flip_none_05`) and most frequent at the highest, {glue:text}`flip_none_075`:
# the stronger the noise, the more digits are genuinely ambiguous, and the posterior mean, which averages over every
# digit that could have produced $y$, drifts towards whichever class dominates that average.
#
# **Guided by the true label**, most flips disappear ({glue:text}`flip_true_075` left at
# $\sigma = 0.75$), and the PSNR goes *up* at every noise level, by up to
# {glue:text}`true_psnr_gain_max:.2f` dB. That is not a coincidence: with the label known, the
# best estimate in squared error is $\mathbb E[x_0 \mid y, c]$, and the conditional model at
# $g = 1$ approximates exactly that. Information that is not in the image has been added, and
# both metrics profit.
#
# **Guided by a label guessed from the noisy image**, the guess itself is poor. The classifier was
# trained on clean digits and, like the VAE of chapter 1, has no idea what to do with inputs far
# from its training data: its accuracy collapses as $\sigma$ grows. What guidance makes of a
# wrong label is more interesting. At $\sigma = 0.5$, {glue:text}`guess_noisy_wrong_05` guesses
# are wrong. Guided by these guesses, {glue:text}`flip_noisy_05` digits come back as another
# digit, against {glue:text}`flip_none_05` without guidance: {glue:text}`noisy_flip_ratio_05`.
# Yet of the digits guided by a wrong label, {glue:text}`wrong_won_05` come back as another
# digit; the rest keep their identity against the label. The conditional model weighs the label
# against the image, and while the image still shows the digit clearly, the image wins; the
# wrong label {glue:text}`noisy_psnr_word_05` PSNR, {glue:text}`noisy_psnr_loss_05:.2f` dB. At
# $\sigma = 0.75$ the image says less: of the digits guided by a wrong label,
# {glue:text}`wrong_won_075` come back as another digit, and {glue:text}`flip_noisy_075` digits
# flip in all, against {glue:text}`flip_none_075` without guidance:
# {glue:text}`noisy_flip_ratio_075`.
#
# **Guided by the label read off the unguided posterior mean**, the guess is right as often as
# the unguided result keeps its identity, by construction, and the flip rate stays exactly where
# it was without guidance (the cell checks it): the classifier reads the guided digit as the
# label it was guided by, and that label is the unguided digit's reading, flips included. A label
# computed from the same noisy image adds no information; guidance can only make the denoiser
# commit harder to the class it already preferred. The small PSNR gain, at most
# {glue:text}`post_psnr_gain_max:.2f` dB, is that commitment paying off on the digits whose guess
# is right.
#
# So of the two guesses, the one from the denoised image is clearly the better one, and neither
# keeps a digit that the unguided denoiser loses. Guidance keeps digits when the label comes from
# somewhere else.
#
# ## A digit kept by guidance
#
# At $\sigma = 0.75$: digits that the unguided posterior mean turns into another class, and
# the true-label guided posterior mean keeps.

# %%
r = runs[0.75]
flipped = r["unguided reads"] != labels
kept = torch.nonzero(flipped & (r["reads"]["true label", 1.0] == labels)).flatten()
print(f"{len(kept)} of {len(x)} digits: flipped without guidance, kept with the true label")

# %% [markdown]
# The first six of them. Each title above a clean digit is its label; the others are the
# classifier's reading (red when it is not the label).

# %% tags=["hide-input"]
def digit_grid(panels, show, truth):
    """Rows of digits (name, images, readings or None), one column per index in `show`."""
    fig, axes = plt.subplots(len(panels), len(show), figsize=(6.8, 1.5 * len(panels)), squeeze=False)
    for row, (name, imgs, read) in enumerate(panels):
        for col, i in enumerate(show):
            ax = axes[row, col]
            ax.imshow(imgs[i, 0].clamp(0, 1), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if read is not None:
                verb = "label" if name == "clean" else "reads"
                ax.set_title(f"{verb} {int(read[i])}", fontsize=10, color="k" if int(read[i]) == int(truth[i]) else "C3")
            if col == 0:
                ax.set_ylabel(name, fontsize=10)
    fig.tight_layout()
    return fig


digit_grid([("clean", x, labels), ("noisy", r["y"], None), ("no guidance", r["unguided"], r["unguided reads"]),
            ("guided,\ntrue label", r["guided"]["true label", 1.0], r["reads"]["true label", 1.0])],
           kept[:6].tolist(), labels)
plt.show()

# %% [markdown]
# These are the ambiguous cases: an unusual stroke or a gap that the noise makes look like part
# of another digit. Without the label, the posterior mean picks the reading that more of the
# digits consistent with $y$ support; with it, the same network resolves the ambiguity towards
# the right class. Does the true label ever do the opposite, flip a digit that the unguided
# posterior mean kept? Counted at each noise level:

# %%
lost = {}
for s, r in runs.items():
    kept_before = r["unguided reads"] == labels
    lost[s] = int((kept_before & (r["reads"]["true label", 1.0] != labels)).sum())
    print(f"sigma {s}: {lost[s]} digit(s) kept without guidance but flipped with the true label")

# %% tags=["hide-input"]
glue("lost_total", sum(lost.values()), display=False)
glue("lost_cases", len(x) * len(sigmas), display=False)
glue("lost_verdict", "with the right label, guidance never loses a digit here" if sum(lost.values()) == 0
     else "with the right label, guidance loses some digits, though it keeps more", display=False)

# %% [markdown]
# {glue:text}`lost_total:d` of the {glue:text}`lost_cases:,d` digit-and-noise-level cases:
# {glue:text}`lost_verdict`.
#
# ## The guidance scale
#
# What does a scale above $1$ buy? With the straight line of the first section every scale
# costs nothing more; the same table at each $g$, for all three labels:

# %% tags=["hide-input"]
by_scale = {(src, g): [(n_flips(r["reads"][src, g]), mean_psnr(r["guided"][src, g])) for r in runs.values()]
            for src in ("true label", "from noisy image", "from posterior mean") for g in scales}
display(HTMLTable(["label, scale", *columns],
                  [[f"{src}, g = {g:.0f}", *((rate(f, len(x)), f"{p:.2f} dB") for f, p in cells)]
                   for (src, g), cells in by_scale.items()],
                  "identity flips (first line) and mean PSNR by guidance scale"))
for src in ("true label", "from noisy image", "from posterior mean"):  # PSNR falls with every step of g
    assert all(by_scale[src, a][i][1] > by_scale[src, b][i][1]
               for a, b in zip(scales, scales[1:]) for i in range(len(sigmas)))
    if src == "from posterior mean":  # and these flips do not change
        assert all([f for f, _ in by_scale[src, g]] == [f for f, _ in by_scale[src, 1.0]] for g in scales)
glue("g_max", scales[-1], display=False)
glue("true_flip_075_gmax", rate(by_scale["true label", scales[-1]][at[0.75]][0], len(x)), display=False)
glue("noisy_flip_05_gmax", rate(by_scale["from noisy image", scales[-1]][at[0.5]][0], len(x)), display=False)

# %% [markdown]
# Above $g = 1$ the estimate leaves the conditional posterior mean and overshoots, away from the
# unconditional one, towards an image that is more typical of the class than the evidence says.
# The PSNR falls with every step of $g$, for every label and noise level (the cell checks it).
# What happens to identity depends on the label:
#
# - with the **true label**, the remaining flips at $\sigma = 0.75$ go from
#   {glue:text}`flip_true_075` at $g = 1$ to {glue:text}`true_flip_075_gmax` at
#   $g =$ {glue:text}`g_max:.0f`;
# - with the label read off the **posterior mean**, the flips do not change: that label already
#   agrees with what the unguided denoiser saw, and a larger $g$ only commits harder to it;
# - with the label guessed from the **noisy image**, a larger $g$ gives the (often wrong) label
#   more weight against the image, and the flips multiply, even at $\sigma = 0.5$ where $g = 1$
#   had kept the image in charge: from {glue:text}`flip_noisy_05` to
#   {glue:text}`noisy_flip_05_gmax` at $g =$ {glue:text}`g_max:.0f`.
#
# For generation from pure noise, where nothing constrains the image but the label, scales above
# $1$ are worth their price: they trade diversity for more recognizable samples {cite}`ho2022cfg`.
# For denoising, where the image is the evidence, $g = 1$ is the right default.

# %% [markdown]
# ## The 8 that becomes a 6
#
# The student's write-up ends on this failure: "sometimes it will turn a noisy "8" image into "6".
# May be adding the text guide into the model will have a better performance." For digits, a
# text guide reduces to the class label: the prompt "an eight" carries exactly the information
# of the label 8, and classifier-free guidance is how text-to-image models use their prompts.
#
# Which digits flip, and into what, over the student's whole range of noise? They trained on
# steps drawn uniformly from {glue:text}`t_low:d` to {glue:text}`t_high:d` of their linear
# $T = 300$ schedule, that is pixel $\sigma$ from {glue:text}`sigma_at_low:.2f` to
# {glue:text}`sigma_at_high:.2f`, with {glue:text}`share_above_05:.0%` of the draws above
# $\sigma = 0.5$ and {glue:text}`share_above_10:.0%` above $\sigma = 1$. So their procedure
# (`benchmarks/student.py`, setting (a) of chapter 5: their own forward-process inputs, their
# chain) runs here at σ = 0.1, 0.2, 0.3, 0.5, 1.0 and 2.0, on the same
# {glue:text}`flip_digits:d` bundled test digits (20 of each class), with the shipped `student`
# weights (a network like theirs, trained on the {glue:text}`student_train_digits:,d` training
# digits without flips). The network trained on training and test digits with flips, as the
# student did, is not shipped; it has rows only up to σ = {glue:text}`ttf_max_sigma`. Beside
# them, on the same digits: tinyddpm's one-step posterior mean without a label at every σ, and
# its unguided ancestral sampler (20 steps from the matched $t^*$) at σ = 0.3 and 0.5, then the
# same ancestral sampler, same noise, same seed, given the true label. Every rate counts digits
# out of the {glue:text}`flip_digits:d` at each noise level.

# %% tags=["hide-input"]
from collections import Counter

from tinyddpm.harness.book_data import read_json

student = read_json("student.json")
wide = student["wide_range"]
assert wide["model"] == "train"  # the rows at sigma 1.0 and 2.0 are the shipped `student` network's
x_all, labels_all = tinyddpm.load_sample()
pos = torch.tensor(student["bundled_indices"])
xs, ls = x_all[pos], labels_all[pos]
cases = {r["sigma"]: r["a_student_inputs"]["flips"] for r in student["models"]["train"]["rows"] + wide["rows"]}
cases_ttf = {r["sigma"]: r["a_student_inputs"]["flips"] for r in student["models"]["train_test_flips"]["rows"]}
cases_pm = {r["sigma"]: r["flips"] for r in student["shipped"] + wide["shipped"]}  # each [position, label, read]
study = sorted(cases)
for name, value in [("flip_digits", len(xs)), ("ttf_max_sigma", max(cases_ttf)), ("t_low", wide["draws"]["t_low"]),
                    ("t_high", wide["draws"]["t_high"]), ("sigma_at_low", wide["draws"]["sigma_at_low"]),
                    ("sigma_at_high", wide["draws"]["sigma_at_high"]), ("share_above_05", wide["draws"]["share_above_0.5"]),
                    ("share_above_10", wide["draws"]["share_above_1.0"]),
                    ("student_train_digits", student["models"]["train"]["training"]["train_digits"])]:
    glue(name, value, display=False)

# %% [markdown]
# tinyddpm's ancestral sampler on the same digits, without a label and with the true label; for
# each scale, how many of the digits it flipped without a label the label keeps:

# %%
ancestral = dict(model=model, schedule=schedule, method="ancestral", steps=20, seed=0)
free, kept = {}, {1.0: 0, 2.0: 0}  # sigma -> its flips (label, read); g -> flips kept
for s in (0.3, 0.5):
    y = noisy_set(xs, s)
    read = predict_labels(classifier, tinyddpm.denoise(y, s, **ancestral))
    flipped = read != ls
    free[s] = list(zip(ls[flipped].tolist(), read[flipped].tolist()))
    for g in kept:
        led = tinyddpm.denoise(y, s, label=ls, guidance=g, **ancestral)
        kept[g] += int((predict_labels(classifier, led) == ls)[flipped].sum())

# %% [markdown]
# Exactly the student's flipped cases at σ ≤ 0.5: the same digit at the same σ, with plain
# noise (their inputs were their own forward-process images), through the same ancestral
# sampler without a label and with the true label:

# %%
theirs = {"none": 0, 1.0: 0, 2.0: 0}  # how many of those cases keep their class
for s in [s for s in study if s <= 0.5 and cases[s]]:
    i = torch.tensor([c[0] for c in cases[s]])
    y = noisy_set(xs, s)[i]
    plain = tinyddpm.denoise(y, s, **ancestral)
    theirs["none"] += int((predict_labels(classifier, plain) == ls[i]).sum())
    for g in (1.0, 2.0):
        led = tinyddpm.denoise(y, s, label=ls[i], guidance=g, **ancestral)
        theirs[g] += int((predict_labels(classifier, led) == ls[i]).sum())

# %% [markdown]
# At σ = 1.0 and 2.0, the chapter's own guided denoiser, the one-step posterior mean and its
# straight line, on exactly the student's flipped cases: how many keep their class without a
# label ($g = 0$) and with the true label at $g = 1$ and $g = 2$:

# %%
wide_kept = {}  # sigma -> (number of cases, kept at g = 0, g = 1, g = 2)
for s in [s for s in wide["sigmas"] if cases[s]]:
    i = torch.tensor([c[0] for c in cases[s]])
    y = noisy_set(xs, s)[i]
    x_null = tinyddpm.denoise(y, s, **mean)
    x_cond = tinyddpm.denoise(y, s, label=ls[i], **mean)
    line = [(x_null + g * (x_cond - x_null)).clamp(0, 1) for g in (0.0, 1.0, 2.0)]
    keeps = [int((predict_labels(classifier, out) == ls[i]).sum()) for out in line]
    wide_kept[s] = (len(i), *keeps)
    print(f"sigma {s}: of {len(i)} cases, kept {keeps[0]} at g = 0, {keeps[1]} at g = 1,",
          f"{keeps[2]} at g = 2")

# %% tags=["hide-input"]
n = len(xs)


def eight_six(flips) -> int:
    return sum(1 for c in flips if tuple(c[-2:]) == (8, 6))


def rate2(k: int, n: int) -> tuple[str, str]:
    """A rate as a table cell on two lines: ('29 of 200', '14.5 %')."""
    return (f"{k} of {n:,}", f"{100 * k / n:.1f} %")


low = [s for s in study if s <= 0.5]
display(HTMLTable(
    ["σ", ("student (a)", "train"), ("student (a)", "8 → 6"), ("student (a)", "train+test+flips"),
     ("tinyddpm", "posterior mean"), ("tinyddpm", "ancestral")],
    [[f"{s}", rate2(len(cases[s]), n), eight_six(cases[s]),
      rate2(len(cases_ttf[s]), n) if s in cases_ttf else "no row", rate2(len(cases_pm[s]), n),
      rate2(len(free[s]), n) if s in free else "not run"] for s in study],
    f"digits read as another digit, of the {n} at each noise level, no label anywhere; student (a): "
    "the student's procedure, setting (a), with each of the two networks"))
groups = [("student's procedure (a), σ ≤ 0.5", [(c[1], c[2]) for s in low for c in cases[s]], len(low)),
          (f"student's procedure (a), σ {' and '.join(str(s) for s in wide['sigmas'])}",
           [(c[1], c[2]) for s in wide["sigmas"] for c in cases[s]], len(wide["sigmas"])),
          (f"tinyddpm ancestral, σ {' and '.join(str(s) for s in free)}", [p for s in free for p in free[s]], len(free))]
rows = []
for name, pairs, levels in groups:
    counter = Counter(pairs)
    top = ", ".join(f"{a} → {b} ({k})" for (a, b), k in counter.most_common(6))
    rows.append([name, rate2(len(pairs), n * levels), counter[(8, 6)], top])
display(HTMLTable(["sampler, noise levels", "flips", "8 → 6", "most frequent (label → read, count)"], rows))
same = list(free)  # the noise levels where all three ran
values = {
    "flips_student_low": rate(sum(len(cases[s]) for s in low), n * len(low)),
    "flips_student_same": rate(sum(len(cases[s]) for s in same), n * len(same)),
    "flips_ancestral": rate(sum(len(free[s]) for s in same), n * len(same)),
    "flips_pm_same": rate(sum(len(cases_pm[s]) for s in same), n * len(same)),
    "n_ancestral_flips": sum(len(free[s]) for s in same),
    "n_student_low": sum(len(cases[s]) for s in low),
    "eight_six_student_low": sum(eight_six(cases[s]) for s in low),
    "eight_six_student_wide": sum(eight_six(cases[s]) for s in wide["sigmas"]),
    "n_student_wide": sum(len(cases[s]) for s in wide["sigmas"]),
    "eight_six_ancestral": sum(1 for s in free for p in free[s] if p == (8, 6)),
    "wide_to8": rate(sum(c[2] == 8 for s in wide["sigmas"] for c in cases[s]), sum(len(cases[s]) for s in wide["sigmas"])),
    "wide_to8_clause": (lambda d: "when little of the digit survives the noise, their chain most often ends on an 8, plausibly "
                        "because an 8's strokes cover most of the other digits' strokes" if d == 8 else
                        f"the most frequent reading there is {d}")(
        Counter(c[2] for s in wide["sigmas"] for c in cases[s]).most_common(1)[0][0]),
}
n_anc, n_low = values["n_ancestral_flips"], values["n_student_low"]
values.update({"kept_label_g1": rate(kept[1.0], n_anc), "kept_label_g2": rate(kept[2.0], n_anc),
               "student_cases_kept_none": rate(theirs["none"], n_low), "student_cases_kept_g1": rate(theirs[1.0], n_low),
               "student_cases_kept_g2": rate(theirs[2.0], n_low)})
for s in wide["sigmas"]:
    k = str(s).replace(".", "")
    values[f"flips_student_{k}"] = rate(len(cases[s]), n)
    values[f"flips_pm_{k}"] = rate(len(cases_pm[s]), n)
    c, *keeps = wide_kept.get(s, (0, 0, 0, 0))
    for g, kk in zip(("g0", "g1", "g2"), keeps):
        values[f"wide_kept_{g}_{k}"] = rate(kk, c)
top = max(wide["sigmas"])
values["top_range_clause"] = (f"at σ = {top} both lose more than half of the digits" if min(len(cases[top]), len(cases_pm[top])) > n / 2
                              else f"at σ = {top} at least one of them keeps half of the digits or more")
for name, value in values.items():
    glue(name, value, display=False)

# %% [markdown]
# Within σ ≤ 0.5, the range the book tested before, the student's procedure flips
# {glue:text}`flips_student_low` of its digit-and-noise-level cases; at σ = 1.0 it flips
# {glue:text}`flips_student_10`, and at σ = 2.0, {glue:text}`flips_student_20`. Where all three
# ran, at σ = 0.3 and 0.5, the same digits at the same noise levels give the same
# denominators: the student's procedure flips {glue:text}`flips_student_same`, tinyddpm's
# unguided ancestral sampler {glue:text}`flips_ancestral` and its posterior mean
# {glue:text}`flips_pm_same`. At σ = 1.0 and 2.0 the posterior mean flips
# {glue:text}`flips_pm_10` and {glue:text}`flips_pm_20` (a denoiser that returned a random
# digit would flip $9/10$ of them): {glue:text}`top_range_clause`.
#
# An 8 became a 6 {glue:text}`eight_six_student_low:d` times among the student's
# {glue:text}`n_student_low:d` flips at σ ≤ 0.5, {glue:text}`eight_six_student_wide:d` times among
# their {glue:text}`n_student_wide:d` flips at σ = 1.0 and 2.0, and
# {glue:text}`eight_six_ancestral:d` times among the ancestral sampler's
# {glue:text}`n_ancestral_flips:d`. The second table lists the most frequent pairs. At σ ≤ 0.5
# they are digits the noise can bridge with a stroke or a gap. At σ = 1.0 and 2.0,
# {glue:text}`wide_to8` of the student's flips are read as an 8; {glue:text}`wide_to8_clause`.
# The student's 8 → 6 accounts for
# {glue:text}`eight_six_student_wide:d` of those {glue:text}`n_student_wide:d` flips.
#
# Given the true label, the ancestral sampler keeps {glue:text}`kept_label_g1` of its flipped
# digits with $g = 1$ and {glue:text}`kept_label_g2` with $g = 2$. On exactly the student's
# flipped cases at σ ≤ 0.5, the same sampler keeps the class of
# {glue:text}`student_cases_kept_none` without a label, {glue:text}`student_cases_kept_g1` with
# the true label at $g = 1$ and {glue:text}`student_cases_kept_g2` at $g = 2$. On the student's
# flipped cases at σ = 1.0, the one-step posterior mean keeps {glue:text}`wide_kept_g0_10`
# without a label, {glue:text}`wide_kept_g1_10` with the true label at $g = 1$ and
# {glue:text}`wide_kept_g2_10` at $g = 2$; at σ = 2.0, {glue:text}`wide_kept_g0_20`,
# {glue:text}`wide_kept_g1_20` and {glue:text}`wide_kept_g2_20`. A larger $g$ weighs the
# label more against an image that says little: the class survives, at the price in PSNR that
# the section on the guidance scale measured.

# %% [markdown]
# The student's own question, at the two strongest noise levels: which of their flips there are
# an 8 read as a 6?

# %%
eights = [(s, c[0]) for s in wide["sigmas"] for c in cases[s] if tuple(c[1:]) == (8, 6)]
top_levels = " and ".join(str(s) for s in wide["sigmas"])
n_top = sum(len(cases[s]) for s in wide["sigmas"])
print(f"8 -> 6 among the student's flips at sigma {top_levels}: {len(eights)} of {n_top}")

# %% [markdown]
# {glue:text}`eight_six_student_wide:d` of their {glue:text}`n_student_wide:d` flips there, on
# {glue:text}`eight_six_wide_digits` of the bundled set. What the label does to exactly those
# digits: each, with plain noise at its σ, goes through this chapter's posterior mean and the
# ancestral sampler, without a label and with the label 8 ($g = 1$).

# %%
names = ("clean", "noisy", "posterior mean", "with label 8",
         "ancestral", "ancestral, label 8")
views, pm = {name: [] for name in names}, dict(model=model, schedule=schedule)
for s, i in eights:
    y, eight = noisy_set(xs, s)[i : i + 1], ls[i : i + 1]
    outs = (xs[i : i + 1], y, tinyddpm.denoise(y, s, **pm),
            tinyddpm.denoise(y, s, label=eight, **pm), tinyddpm.denoise(y, s, **ancestral),
            tinyddpm.denoise(y, s, label=eight, **ancestral))
    for name, out in zip(names, outs):
        views[name].append(out)
views = {k: torch.cat(v) if v else torch.empty(0, 1, 28, 28) for k, v in views.items()}
eight_reads = {name: predict_labels(classifier, views[name]) for name in names[2:]}
for name, read in eight_reads.items():
    print(f"{name:>18}: {rate(int((read == 8).sum()), len(eights))} read as 8")

# %% tags=["hide-input"]
if eights:
    truth, show = torch.full((len(eights),), 8), list(range(min(6, len(eights))))
    fig = digit_grid([("clean", views["clean"], truth), ("noisy", views["noisy"], None)]
                     + [(name.replace(", ", ",\n"), views[name], read) for name, read in eight_reads.items()], show, truth)
    for col in show:
        fig.axes[col].set_title(f"σ = {eights[col][0]}, label 8", fontsize=10)
    plt.show()
k = len({i for _, i in eights})
glue("eight_six_wide_digits", f"{k} different digit{'s' if k != 1 else ''}", display=False)
for name, key in [("posterior mean", "pm_none"), ("with label 8", "pm_label"), ("ancestral", "anc_none"),
                  ("ancestral, label 8", "anc_label")]:
    glue(f"eight_{key}", rate(int((eight_reads[name] == 8).sum()), len(eights)), display=False)

# %% [markdown]
# Without a label, the posterior mean reads {glue:text}`eight_pm_none` of these cases as an 8
# and the ancestral sampler {glue:text}`eight_anc_none`; with the label 8 at $g = 1$,
# {glue:text}`eight_pm_label` and {glue:text}`eight_anc_label`. Each column's titles say what
# the classifier reads; red marks a reading that is not 8.

# %% [markdown]
# The student's "text guide" is the right idea, with one condition this chapter measured above:
# the label has to come from outside the noisy image. A real text encoder would add what ten
# class labels cannot say (the style of a stroke, "an 8 with a small upper loop", a sequence of
# digits) at the price of paired text-image data and a much larger model; for a single digit
# the label carries the whole prompt.

# %% [markdown]
# ## What to take away
#
# - Classifier-free guidance mixes the model's conditional and unconditional noise predictions;
#   for the one-step posterior mean it is a straight line between the two denoised images.
# - A true label, from outside the image, is information the noisy image does not contain: at
#   $\sigma = 0.75$ it brings the flips from {glue:text}`flip_none_075` down to
#   {glue:text}`flip_true_075`, and it raises PSNR by up to {glue:text}`true_psnr_gain_max:.2f` dB.
# - A label guessed from the noisy image cannot do that. Guessed by a classifier on the noisy
#   input it costs PSNR, and identity too once the noise is strong ({glue:text}`flip_noisy_075`
#   flipped at $\sigma = 0.75$); guessed from the denoised image it leaves the flips where they were.
# - Guidance scales above $1$ trade PSNR for commitment; for denoising, $g = 1$ is enough.
# - Over the student's whole range, their procedure flips {glue:text}`flips_student_low` of its
#   cases at σ ≤ 0.5, {glue:text}`flips_student_10` at σ = 1.0 and {glue:text}`flips_student_20`
#   at σ = 2.0; at the top, {glue:text}`wide_to8` of the flips turn into an 8. The true label
#   fed to this chapter's posterior mean keeps {glue:text}`wide_kept_g1_20` of their flipped
#   digits at σ = 2.0. Compare flip rates only with their denominators, on the same digits at
#   the same noise levels.

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** (pen and paper) (a) Ho and Salimans write guidance as
# $\tilde\epsilon = (1 + w)\,\epsilon_\theta(x_t, t, c) - w\,\epsilon_\theta(x_t, t, \varnothing)$.
# Show that this is this chapter's formula with $g = 1 + w$. (b) With
# $\epsilon_\theta(x_t, t, c) \approx -\sqrt{1-\bar\alpha_t}\,\nabla_{x_t} \log p(x_t \mid c)$ and
# $\epsilon_\theta(x_t, t, \varnothing) \approx -\sqrt{1-\bar\alpha_t}\,\nabla_{x_t} \log p(x_t)$,
# show that $\tilde\epsilon$ is the scaled score of $p(x_t)\,p(c \mid x_t)^g$. (c) Two states
# $x_A$ and $x_B$ are equally likely a priori, $p(x_A) = p(x_B)$, and the implicit classifier
# gives the label 8 probability $p(8 \mid x_A) = 0.6$ and $p(8 \mid x_B) = 0.9$. By what factor
# does the guided density favour $x_B$ over $x_A$ at $g = 0$, $g = 1$ and $g = 3$?
#
# ```{admonition} Solution
# :class: dropdown
# (a) $(1 + w)\,\epsilon_c - w\,\epsilon_\varnothing = \epsilon_\varnothing + (1 + w)(\epsilon_c - \epsilon_\varnothing)$,
# which is the chapter's $\epsilon_\varnothing + g\,(\epsilon_c - \epsilon_\varnothing)$ with
# $g = 1 + w$; $w = 0$ is the plain conditional model.
#
# (b) Write $k = -\sqrt{1-\bar\alpha_t}$. Then
# $\tilde\epsilon \approx k\,\big[\nabla \log p(x_t) + g\,(\nabla \log p(x_t \mid c) - \nabla \log p(x_t))\big]$.
# By Bayes' rule $\log p(x_t \mid c) - \log p(x_t) = \log p(c \mid x_t) - \log p(c)$, and
# $\log p(c)$ does not depend on $x_t$, so its gradient vanishes:
# $\tilde\epsilon \approx k\,\nabla \big[\log p(x_t) + g \log p(c \mid x_t)\big] = k\,\nabla \log \big(p(x_t)\,p(c \mid x_t)^g\big)$.
#
# (c) The guided density is proportional to $p(x)\,p(8 \mid x)^g$, and the priors cancel in the
# ratio: $(0.9 / 0.6)^g = 1.5^g$, so $1$ at $g = 0$ (the label is ignored), $1.5$ at $g = 1$
# (Bayes' rule: the conditional density) and $1.5^3 \approx 3.4$ at $g = 3$. A larger scale
# sharpens the classifier's vote: states that look more like an 8 gain weight beyond what the
# evidence says, which is the overshoot of the section on the guidance scale.
# ```
#
# **Exercise 2.** (code) With the straight line, trace the flips at $\sigma = 0.75$ under the
# true label for $g$ from $0$ to $3$ in steps of $0.5$. `runs[0.75]["x_null"]` and
# `runs[0.75]["cond"]["true label"]` hold the two unclipped posterior means; no network call is
# needed. Where does the flip count fall most?

# %% tags=["hide-input", "solution"]
r, scales_ex = runs[0.75], (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
counts = {g: n_flips(predict_labels(classifier, (r["x_null"] + g * (r["cond"]["true label"] - r["x_null"])).clamp(0, 1)))
          for g in scales_ex}
for g, k in counts.items():
    print(f"g = {g:.1f}: {rate(k, len(x))} flipped")
a, b = max(zip(scales_ex, scales_ex[1:]), key=lambda ab: counts[ab[0]] - counts[ab[1]])
print(f"the largest fall: from g = {a:.1f} to g = {b:.1f}, {counts[a] - counts[b]} fewer flips")
