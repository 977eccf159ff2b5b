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
# # Why a VAE can't denoise

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
# This book grew out of a failed experiment, and it starts by repeating it. A student who set
# out to denoise MNIST digits began like this: "First I tried a VAE autoencoder. It has the
# ability to reconstruct the picture from the latent space, and is pretty easy to train on the
# MNIST dataset. However, it cannot denoise the image from an noisy image." (their write-up,
# quoted as written). Their figure showed four rows: the digits, the VAE's reconstructions of
# them, the noisy digits, and the reconstructions of those. This chapter draws the same four rows
# with tinyddpm's VAE and asks why. Symbols are listed on the {doc}`notation` page.
#
# A variational autoencoder (VAE) {cite}`kingma2014vae` learns to squeeze a digit through a
# small code and rebuild it. The encoder maps an image $x$ to a Gaussian $q(z \mid x)$ over a
# low-dimensional latent space; the decoder maps a code $z$ back to an image; and training
# pushes the codes of all digits towards a standard normal prior $p(z) = \mathcal N(0, I)$, so
# that the latent space is filled without holes. A model that can rebuild every digit from a
# handful of numbers must have learned what digits look like. So the idea is tempting: hand it
# a *noisy* digit, and the bottleneck, which has no room for noise, should hand back a clean one.
#
# tinyddpm ships such a VAE, a small MLP like those of the original paper's MNIST experiments,
# trained on clean digits only. (The imports come first; the cell is folded away.)

# %% tags=["hide-input"]
import math

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from myst_nb import glue
from torchvision.transforms.functional import gaussian_blur

import tinyddpm
from tinyddpm import viz
from tinyddpm.harness.book_data import HTMLTable
from tinyddpm.harness.evaluate import noisy_set
from tinyddpm.metrics import identity_accuracy, predict_labels, psnr
from tinyddpm.harness.vae import kl_to_prior

# %%
vae, _ = tinyddpm.pretrained("vae")
classifier, _ = tinyddpm.pretrained("classifier")
x, labels = tinyddpm.load_sample()  # 1,000 MNIST test digits in [0, 1], 100 per class
print(vae)
print(f"{sum(p.numel() for p in vae.parameters()):,} parameters, latent dimension {vae.config.latent}")
glue("latent", vae.config.latent, display=False)
glue("hidden", vae.enc[1].out_features, display=False)

# %% [markdown]
# The encoder is one hidden layer of {glue:text}`hidden` units and the latent code has
# {glue:text}`latent` dimensions. A reconstruction is `decode(mu(x))`: the decoder applied to the
# centre of the encoder's Gaussian, with no sampling, so the experiment is deterministic:
#
# ```{literalinclude} /src/tinyddpm/harness/vae.py
# :pyobject: VAE.forward
# :dedent:
# ```
#
# ## The experiment
#
# Four rows, one digit of each class: clean digits, their VAE reconstructions, the same digits
# with Gaussian noise of standard deviation $\sigma = 0.3$ (pixel units, images in $[0, 1]$), and
# the VAE reconstructions of the noisy versions. The noisy images are the book's fixed
# evaluation set (`noisy_set`), not clipped to $[0, 1]$. The figure clips them only for display.

# %%
sigma = 0.3
y = noisy_set(x, sigma)  # y = x + 0.3 n, one fixed draw of the noise
with torch.no_grad():
    rec_clean, rec_noisy = vae(x), vae(y)
pick = torch.stack([torch.nonzero(labels == c)[0, 0] for c in range(10)])
viz.comparison({
    "clean": x[pick],
    "VAE(clean)": rec_clean[pick],
    f"noisy, sigma {sigma}": y[pick],
    "VAE(noisy)": rec_noisy[pick],
})

# %% [markdown]
# PSNR (peak signal-to-noise ratio, $10 \log_{10}(1/\mathrm{MSE})$ in dB, higher is better) of
# each row against the clean digits, averaged over all 1,000 digits. The last column asks the
# package's small MNIST classifier whether the digit is still the same digit (its first line,
# on the clean digits themselves, shows how reliable the classifier is):

# %%
rows = {"clean": x, "VAE(clean)": rec_clean, f"noisy, sigma {sigma}": y, "VAE(noisy)": rec_noisy}
read = {name: predict_labels(classifier, images) for name, images in rows.items()}  # (1000,) each
right = {name: 100 * float((r == labels).float().mean()) for name, r in read.items()}
db = {name: float(psnr(images, x).mean()) for name, images in rows.items() if name != "clean"}

# %% tags=["hide-input"]
glue("psnr_rec_clean", round(db["VAE(clean)"], 2), display=False)
glue("psnr_noisy", round(db[f"noisy, sigma {sigma}"], 2), display=False)
glue("psnr_rec_noisy", round(db["VAE(noisy)"], 2), display=False)
glue("id_rec_clean", round(right["VAE(clean)"], 1), display=False)
glue("id_rec_noisy", round(right["VAE(noisy)"], 1), display=False)
glue("id_noisy", round(right[f"noisy, sigma {sigma}"], 1), display=False)
glue("id_clean", round(right["clean"], 1), display=False)
HTMLTable(
    ["images", "PSNR (dB)", "classifier reads the true digit"],
    [[name, f"{db[name]:.2f}" if name in db else "(reference)", f"{right[name]:.1f} %"] for name in rows],
)

# %% [markdown]
# Three things stand out.
#
# 1. The VAE is lossy even on clean digits: its reconstructions are recognisable but blurred
#    ({glue:text}`psnr_rec_clean:.2f` dB), and that PSNR is the best it can be expected to do
#    on any input.
# 2. On noisy digits it does *remove* noise: its output ({glue:text}`psnr_rec_noisy:.2f` dB) is
#    far closer to the clean digit than the noisy input was ({glue:text}`psnr_noisy:.2f` dB). Any
#    small bottleneck would do that much, since white noise in all of a digit's pixels cannot
#    pass through it.
# 3. But it falls well short of that best case, and it loses digits: the classifier finds the
#    true digit in {glue:text}`id_rec_noisy:.1f` % of the reconstructions of noisy inputs,
#    against {glue:text}`id_rec_clean:.1f` % of the reconstructions of clean ones. (The
#    classifier, right on {glue:text}`id_clean:.1f` % of the clean digits, was trained on clean
#    digits and is itself thrown by raw noise, {glue:text}`id_noisy:.1f` %, so its score on the
#    noisy row says more about the classifier than about the digits.)
#
# Is removing *some* noise good enough? A fair yardstick is the dumbest denoiser there is, a
# Gaussian blur (here torchvision's, clipped to $[0, 1]$). Below, its width is tuned
# separately for each $\sigma$ on these same 1,000 digits (which flatters the blur a little), and
# compared with the VAE across noise levels.
# One more column tries the natural fix of clipping the noisy input to $[0, 1]$ first, since
# the VAE was trained on pixels in that range.

# %%
sigmas = (0.1, 0.2, 0.3, 0.5)
widths = (0.3, 0.5, 0.7, 0.9, 1.1, 1.4, 1.8)  # blur standard deviations in pixels
table, ident = {}, {}
for sig in sigmas:
    ys = noisy_set(x, sig)
    with torch.no_grad():
        r, r_clip = vae(ys), vae(ys.clamp(0, 1))
    blurs = [gaussian_blur(ys, 2 * math.ceil(3 * w) + 1, w).clamp(0, 1) for w in widths]
    blur = max(blurs, key=lambda b: float(psnr(b, x).mean()))  # the best width for this sigma
    outputs = (("noisy", ys), ("VAE", r), ("VAE clip", r_clip), ("blur", blur))
    table[sig] = {name: float(psnr(v, x).mean()) for name, v in outputs}
    ident[sig] = 100 * identity_accuracy(classifier, r, labels)

# %% tags=["hide-input"]
body = [[f"{sig:.1f}"] + [f"{table[sig][k]:.2f}" for k in ("noisy", "VAE", "VAE clip", "blur")] + [f"{ident[sig]:.1f} %"]
        for sig in sigmas]
display(HTMLTable(["sigma", "noisy (dB)", "VAE(noisy) (dB)", "VAE(clip) (dB)", "best blur (dB)", "identity, VAE(noisy)"], body))
best_case = float(psnr(rec_clean, x).mean())
plt.figure(figsize=(6, 3.6))
for key, label in (("noisy", "noisy input"), ("VAE", "VAE(noisy)"), ("blur", "best Gaussian blur")):
    plt.plot(sigmas, [table[sig][key] for sig in sigmas], "o-", label=label)
plt.axhline(best_case, color="k", ls="--", lw=1, label="VAE(clean): its best case")
plt.xlabel("noise sigma (pixel units)"), plt.ylabel("PSNR (dB), 1,000 digits"), plt.legend()
plt.tight_layout()
plt.show()
blur_gain = [table[sig]["blur"] - table[sig]["VAE"] for sig in sigmas]
clip_loss = [table[sig]["VAE"] - table[sig]["VAE clip"] for sig in sigmas]
glue("blur_gain_min", round(min(blur_gain), 2), display=False)
glue("blur_gain_max", round(max(blur_gain), 2), display=False)
glue("blur_beats_vae_everywhere", "at every" if min(blur_gain) > 0 else "not at every", display=False)
glue("clip_loss_min", round(min(clip_loss), 2), display=False)
glue("clip_loss_max", round(max(clip_loss), 2), display=False)
glue("clip_effect", "lowers" if min(clip_loss) > 0 else "does not always lower", display=False)

# %% [markdown]
# A tuned blur beats the VAE {glue:text}`blur_beats_vae_everywhere` noise level, by
# {glue:text}`blur_gain_min:.2f` to {glue:text}`blur_gain_max:.2f` dB. Clipping the input makes the
# VAE worse, not better (by {glue:text}`clip_loss_min:.2f` to {glue:text}`clip_loss_max:.2f` dB):
# on the black background, where most pixels are $0$, clipping throws away the negative half of
# the noise and leaves a grey haze of positive mean, which the encoder reads as ink. The VAE's
# knowledge of what digits look like is not helping it remove noise. Why not?
#
# ## What the encoder does with a noisy digit
#
# The VAE was trained on clean digits, which lie on a thin "manifold" in the $28 \times 28 = 784$
# dimensional pixel space. A noisy digit lies *off* it, at a distance of about
# $\sigma\sqrt{784} = 28\sigma$ in a random direction, and the encoder was never shown such a
# point. Nothing in its training told it how to respond.
#
# Start with its first layer, which is linear: each hidden unit $j$ computes
# $w_j^\top (x + \sigma n) + b_j$. The noise adds $\sigma\, w_j^\top n$, a Gaussian with standard
# deviation $\sigma \lVert w_j \rVert$, and nothing in the network cancels it. Compare it with how
# much the same units vary from one clean digit to another, which is all the information
# the encoder has about which digit it sees:

# %%
first = vae.enc[1]  # the Linear(784, 400) layer
body = []
with torch.no_grad():
    pre_clean = first(x.flatten(1))  # (1000, 400) pre-activations
    digit_spread = float(pre_clean.std(0).mean())
    for sig in sigmas:
        noise_part = float((first(noisy_set(x, sig).flatten(1)) - pre_clean).std(0).mean())
        predicted = sig * float(first.weight.norm(dim=1).mean())
        body.append([f"{sig:.1f}", f"{noise_part:.2f}", f"{predicted:.2f}", f"{noise_part / digit_spread:.2f}"])
        if sig == sigma:
            glue("noise_over_spread", round(noise_part / digit_spread, 2), display=False)
print(f"spread of a hidden unit across clean digits: {digit_spread:.2f}")
HTMLTable(["sigma", "noise in a hidden unit", "sigma times norm of w_j", "noise / spread across digits"], body)

# %% [markdown]
# At $\sigma = 0.3$ the noise in each hidden unit is already {glue:text}`noise_over_spread:.2f`
# times the differences that tell digits apart, and it is exactly what a linear layer
# predicts: the encoder passes noise through as if it were a change of the digit. The damage
# shows in the latent code. For each $\sigma$ we measure how far the posterior mean $\mu(y)$
# moves away from the clean digit's $\mu(x)$, compared with the typical distance between a clean
# digit's code and its nearest neighbour among the other digits' codes; how often the noisy
# code's nearest clean code belongs to another digit, and of another class; the encoder's
# reported uncertainty (the mean posterior standard deviation); and the KL divergence of
# $q(z \mid y)$ from the prior, which is large where codes lie in regions the prior (and so the
# decoder's training) rarely visits.

# %%
with torch.no_grad():
    mu_x, logvar_x = vae.encode(x)  # (1000, 20) each
    d = torch.cdist(mu_x, mu_x)
    d.fill_diagonal_(float("inf"))
    neighbour = float(d.min(1).values.median())  # typical gap between neighbouring clean codes
    codes = {"clean": (mu_x, logvar_x)} | {sig: vae.encode(noisy_set(x, sig)) for sig in sigmas}
stats = {}
for key, (mu, logvar) in codes.items():
    nearest = torch.cdist(mu, mu_x).argmin(1)  # the clean code closest to each code
    stats[key] = {"shift": float((mu - mu_x).norm(dim=1).mean()),
                  "other": 100 * float((nearest != torch.arange(len(x))).float().mean()),
                  "other class": 100 * float((labels[nearest] != labels).float().mean()),
                  "std": float((0.5 * logvar).exp().mean()), "kl": float(kl_to_prior(mu, logvar).mean())}

# %% tags=["hide-input"]
body = [["clean", "", "", "", f"{stats['clean']['std']:.3f}", f"{stats['clean']['kl']:.1f}"]]
for sig in sigmas:
    st = stats[sig]
    body.append([f"sigma {sig:.1f}", f"{st['shift']:.2f}", f"{st['other']:.1f} %", f"{st['other class']:.1f} %",
                 f"{st['std']:.3f}", f"{st['kl']:.1f}"])
shifts = {sig: stats[sig]["shift"] for sig in sigmas}
std_clean, std_noisy = stats["clean"]["std"], stats[sigmas[-1]]["std"]
print(f"distance from a clean code to its nearest neighbour (median): {neighbour:.2f}")
glue("neighbour", round(neighbour, 2), display=False)
glue("first_sigma_past_neighbour", min(sig for sig in sigmas if shifts[sig] > neighbour), display=False)
glue("std_change", round(abs(std_noisy - std_clean), 3), display=False)
HTMLTable(["codes of", "code shift", "nearest clean code: other digit", "other class", "posterior std",
            "KL to prior (nats)"], body)

# %% [markdown]
# Read the table row by row and the failure has three parts.
#
# - **The code moves, in proportion to the noise.** The shift grows linearly with $\sigma$ (the
#   encoder is nearly linear in the noise), and from $\sigma =$
#   {glue:text}`first_sigma_past_neighbour:.1f` on it is larger than the gap between neighbouring
#   digits ({glue:text}`neighbour:.2f`). Many noisy codes now sit closer to *another* digit's code
#   than to their own, a growing share of them of another class: the decoder then draws that
#   other digit.
# - **The encoder does not know.** Its posterior standard deviation is the same for noisy
#   inputs as for clean ones (it changes by {glue:text}`std_change:.3f` at the largest $\sigma$). A
#   VAE's posterior variance expresses uncertainty *among digits it was trained on*; it has no
#   way to say "this input is unlike anything I have seen", so it reports a noisy digit with
#   the same confidence as a clean one.
# - **The code leaves the region the decoder knows.** The KL to the prior rises with $\sigma$:
#   noise pushes codes outwards, towards the thin tails of $\mathcal N(0, I)$ where the decoder
#   was rarely trained, and what it draws there is a blur or a blend.
#
# The picture below shows that drift for the digits it hurts. It takes the first ten digits of
# the sample whose reconstruction the classifier reads correctly when the input is clean but
# not when it is noisy ($\sigma = 0.3$), and walks along the straight line from the clean code
# $\mu(x)$ to the noisy code $\mu(y)$, decoding $\mu(x) + a\,(\mu(y) - \mu(x))$ at seven points
# $a = 0, \tfrac16, \dots, 1$. Each row: the clean digit, the seven decodings, the noisy input.

# %%
hurt = (read["VAE(clean)"] == labels) & (read["VAE(noisy)"] != labels)
flipped = torch.nonzero(hurt)[:10, 0]
print(f"{int(hurt.sum())} of 1,000 digits flip this way; the first ten")
print(f"  are digits     {labels[flipped].tolist()}")
print(f"  read, noisy as {read['VAE(noisy)'][flipped].tolist()}")
with torch.no_grad():
    mu_clean, mu_noisy = vae.encode(x[flipped])[0], vae.encode(y[flipped])[0]
    path = [vae.decode(mu_clean + a * (mu_noisy - mu_clean)) for a in torch.linspace(0, 1, 7)]
fractions = ["a = 0", "1/6", "2/6", "3/6", "4/6", "5/6", "a = 1"]
viz.trajectory([x[flipped], *path, y[flipped]], columns=["clean", *fractions, "noisy"])

# %% [markdown]
# A person still reads the noisy inputs on the right without trouble. The decoder, following
# the drifting code, slides into another digit or into a blend of two.
#
# The student's explanation was that "the VAE is tried to memorize the images in the dataset,
# and a noisy image does not belongs to the dataset", and their hope was that "a lossy encoding
# can solve the problem by ignoring the noise in the image". Both are natural guesses, and the
# measurements let us make them precise.
#
# "Memorize" is not quite what they show. A VAE that had memorised its training images could
# rebuild those and little else, yet all 1,000 digits of this chapter are MNIST *test* digits,
# which the VAE never saw in training. It rebuilds them at {glue:text}`psnr_rec_clean:.2f` dB, and
# the classifier reads {glue:text}`id_rec_clean:.1f` % of the reconstructions as the right digit.
# One more check: is each reconstruction closer to its own input than to any other digit of the
# sample?

# %%
dist = torch.cdist(rec_clean.flatten(1), x.flatten(1))  # (1000, 1000) distances
own = 100 * float((dist.argmin(1) == torch.arange(len(x))).float().mean())
print(f"reconstructions closest to their own input: {own:.1f} % of {len(x):,}")
glue("own_nearest", round(own, 1), display=False)

# %% [markdown]
# It is for {glue:text}`own_nearest:.1f` % of them. On clean digits the VAE *generalises*: it has
# learned enough about what digits look like to rebuild new ones, blurred but recognisable. The
# second half of the student's sentence is the part that holds, and it is the heart of the
# matter: a noisy digit is not a new digit but a new *kind* of input, a digit plus noise, and
# the VAE was never trained on one. There its code drifts, as the tables above show. The hope
# for the lossy encoding is half borne out too: the bottleneck does drop much of the noise (the
# second point above), but what the decoder rebuilds from a drifted code is a clean-looking
# digit that may be the wrong one.
#
# None of this is a bug in this particular VAE; the problem is the question it was trained to
# answer. A VAE learns to reconstruct *clean* digits
# from clean digits. It was never told what noise is, never shown a noisy digit, and never told
# how noisy its input is, so it cannot separate the part of the input that is digit from the
# part that is noise; it encodes both. A tuned blur, which knows nothing about digits but
# assumes something true about noise (it is independent from pixel to pixel), does better.
#
# The rest of the book builds a model that has what the VAE lacks:
#
# > **Can we train one network on digits corrupted at *every* noise level, tell it how noisy each
# > input is, and ask it for the clean digit (or, equivalently, for the noise), so that any noisy
# > digit, however noisy, is an input it was trained on?**
#
# That network is a denoising diffusion model.

# %% [markdown]
# ## What to take away
#
# - A VAE trained on clean digits generalises to clean digits it has never seen: on 1,000 MNIST
#   test digits its reconstructions score {glue:text}`psnr_rec_clean:.2f` dB, and the classifier
#   reads {glue:text}`id_rec_clean:.1f` % of them as the right digit.
# - Noisy input is what it was never trained on. At $\sigma = 0.3$ it lifts the PSNR from
#   {glue:text}`psnr_noisy:.2f` to {glue:text}`psnr_rec_noisy:.2f` dB, but the right digit comes
#   back in {glue:text}`id_rec_noisy:.1f` % of the reconstructions, and a tuned Gaussian blur
#   beats it {glue:text}`blur_beats_vae_everywhere` noise level tested.
# - The encoder's first layer is linear, so the noise passes into the code: at $\sigma = 0.3$ the
#   noise in a hidden unit is {glue:text}`noise_over_spread:.2f` times the spread that tells
#   digits apart. The code drifts towards other digits, and the encoder reports the same
#   uncertainty as for a clean digit.
# - Clipping the noisy input to $[0, 1]$ {glue:text}`clip_effect` the PSNR of the VAE's output:
#   it turns zero-mean noise into a grey haze of positive mean, which the encoder reads as ink.
# - A denoiser needs what the VAE lacks: training on noisy inputs at all noise levels, and being
#   told how noisy each input is.

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** (pen and paper) The grey haze. A background pixel has $x = 0$, so its noisy
# value is $y = \sigma n$ with $n \sim \mathcal N(0, 1)$. Show that the mean of the clipped value
# $\min(\max(y, 0), 1)$ is close to $\sigma / \sqrt{2\pi} \approx 0.4\,\sigma$ when $\sigma$
# is small, while the mean of $y$ itself is $0$. Why does the first, linear layer of the encoder
# treat the two so differently?
#
# ```{admonition} Solution
# :class: dropdown
# Ignore the upper clip for a moment. With $\varphi$ the standard normal density,
# $\mathbb E[\max(\sigma n, 0)] = \sigma \int_0^\infty n\,\varphi(n)\,dn = \sigma\,\varphi(0)
# = \sigma/\sqrt{2\pi}$, since $\int_0^\infty n\,\varphi(n)\,dn = [-\varphi(n)]_0^\infty =
# \varphi(0)$. The upper clip at $1$ subtracts $\mathbb E[\max(\sigma n - 1, 0)] =
# \sigma\varphi(1/\sigma) - (1 - \Phi(1/\sigma))$, which is tiny while $1/\sigma$ is a few
# standard deviations (at $\sigma = 0.5$ it is about $0.004$).
#
# A linear unit computes $w_j^\top y + b_j$. Zero-mean noise adds a term of mean zero that
# differs from pixel to pixel and partly cancels in the sum. The haze adds the same positive
# amount, about $0.4\,\sigma$, to every background pixel (most of the image), so it shifts
# $w_j^\top y$ by about $0.4\,\sigma \sum_{i \in \text{background}} w_{ji}$: a systematic
# change, exactly what a real change of the digit (more ink) looks like to the encoder.
# ```
#
# **Exercise 2.** (code) Check the haze of the previous exercise on the sample: for each $\sigma$ of the sweep above,
# average the clipped noisy image over the background pixels ($x = 0$) and set it beside
# $\sigma/\sqrt{2\pi}$.

# %% tags=["hide-input", "solution"]
background = x == 0  # pixels without ink
for sig in sigmas:
    haze = float(noisy_set(x, sig).clamp(0, 1)[background].mean())
    print(f"sigma {sig:.1f}: haze {haze:.4f}, sigma / sqrt(2 pi) = {sig / math.sqrt(2 * math.pi):.4f}")

# %% [markdown]
# **Exercise 3.** (code) Blur first. Would the VAE do better if it were handed the best blur's
# output instead of the noisy digit? At $\sigma = 0.3$, compare the PSNR and the
# identity of $\mathrm{VAE}(y)$, of the blur and of $\mathrm{VAE}(\mathrm{blur}(y))$, and explain
# what you see with this chapter's argument.

# %% tags=["hide-input", "solution"]
ys = noisy_set(x, 0.3)
blurs = {w: gaussian_blur(ys, 2 * math.ceil(3 * w) + 1, w).clamp(0, 1) for w in widths}
w = max(blurs, key=lambda w: float(psnr(blurs[w], x).mean()))  # the best width, as in the sweep
with torch.no_grad():
    outputs = {"VAE(y)": vae(ys), f"blur(y), width {w}": blurs[w], "VAE(blur(y))": vae(blurs[w])}
score = {k: (float(psnr(v, x).mean()), 100 * identity_accuracy(classifier, v, labels)) for k, v in outputs.items()}
for name, (db_k, id_k) in score.items():
    print(f"{name:20s} {db_k:.2f} dB, identity {id_k:.1f} %")
better = score["VAE(blur(y))"][0] > score["VAE(y)"][0]
print(f"VAE(blur(y)) is {'better' if better else 'worse'} than VAE(y) in PSNR:")
print("  a blurred digit is one more input the VAE was never trained on" if not better else "  the blur helps it here")

# %% [markdown]
# Chapter 2 builds the noising process that a diffusion model is trained on; chapter 3 trains
# it; chapter 5 uses it to denoise these same 1,000 digits.
