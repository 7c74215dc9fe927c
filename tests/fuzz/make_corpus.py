"""Write the fuzzers' seed corpora: real `.ndc` files of the golden codec at awkward sizes,
small codec and task-model checkpoints, and small images in every mode `compress` meets.

.venv/bin/python -m tests.fuzz.make_corpus
"""

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from nodecode.codec.files import compress_image
from nodecode.data.images import pil_to_tensor
from nodecode.data.photos import load_photo
from nodecode.models.checkpoint import TaskModelInfo, write_task_model
from nodecode.models.registry import create
from tests.fuzz.target import GOLDEN, codec, context_codec, hyperprior

CORPUS = Path(__file__).parent / "corpus"
SIZES = ((1, 1), (8, 8), (9, 17), (33, 64), (64, 40))


def ndc_seeds(folder: Path) -> None:
    golden = ("coffee.ndc", "coffee-v2.ndc", "coffee-v3.ndc", "coffee-v4.ndc", "coffee-context.ndc")
    for name in golden:
        shutil.copyfile(GOLDEN / name, folder / f"golden-{name}")
    photo = pil_to_tensor(load_photo("astronaut"))
    for h, w in SIZES:
        crop = photo[:, 100 : 100 + h, 150 : 150 + w]
        compress_image(codec(), crop, folder / f"{h}x{w}.ndc")
        compress_image(context_codec(), crop, folder / f"{h}x{w}-context.ndc")


def compressai_seeds(folder: Path) -> None:
    photo = pil_to_tensor(load_photo("astronaut"))
    for h, w in SIZES:
        compress_image(
            hyperprior(), photo[:, 100 : 100 + h, 150 : 150 + w], folder / f"{h}x{w}.ndc"
        )


def checkpoint_seeds(folder: Path) -> None:
    shutil.copyfile(GOLDEN / "codec.safetensors", folder / "golden-codec.safetensors")
    for task, model in (("classification", "cresnet39"), ("segmentation", "cresnet39-d")):
        network = create(model, num_classes=3, in_channels=4, width=0.0625)
        meta = {"model": model, "task": task, "input": "latent", "num_classes": 3}
        meta |= {"in_channels": 4, "width": 0.0625, "classes": ["a", "b", "c"]}
        write_task_model(folder / f"{model}.safetensors", network, TaskModelInfo(**meta))


def image_seeds(folder: Path) -> None:
    rgb = load_photo("astronaut").resize((24, 16))
    rgb.save(folder / "rgb.png")
    rgb.save(folder / "rgb.webp")
    rgb.save(folder / "rgb.bmp")
    rgb.convert("CMYK").save(folder / "cmyk.jpg", quality=80)
    exif = Image.Exif()
    exif[0x0112] = 6
    rgb.save(folder / "exif.jpg", exif=exif, quality=80)
    palette = rgb.convert("P", palette=Image.ADAPTIVE, colors=8)
    palette.save(folder / "palette.png", transparency=0)
    palette.save(folder / "anim.gif", save_all=True, append_images=[palette.rotate(90)])
    rgb.convert("LA").save(folder / "la.png")
    deep = (np.arange(16 * 24).reshape(16, 24) * 170).astype(np.uint16)
    Image.fromarray(deep).save(folder / "gray16.png")
    Image.fromarray(deep.astype(np.float32) / 65535).save(folder / "float.tif")


def main() -> None:
    for name, write in (
        ("ndc", ndc_seeds),
        ("compressai", compressai_seeds),
        ("checkpoint", checkpoint_seeds),
        ("image", image_seeds),
    ):
        folder = CORPUS / name
        folder.mkdir(parents=True, exist_ok=True)
        write(folder)


if __name__ == "__main__":
    main()
