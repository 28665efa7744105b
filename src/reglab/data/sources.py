"""Where each dataset comes from and how to recognise the genuine files.

A file is accepted when EITHER the sha256 of its decompressed IDX payload matches a pinned
payload hash (so Debian's re-compressed Fashion-MNIST passes) OR the hash of the compressed
bytes matches a pinned archive hash (the only thing published for KMNIST). Provenance of
every pinned value is written beside it; none was made up or copied from memory.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from .errors import DataError

# The four files of an MNIST-style dataset, in the order Dataset needs them.
FILE_ROLES = ("train-images", "train-labels", "t10k-images", "t10k-labels")
STANDARD_NAMES = {
    "train-images": "train-images-idx3-ubyte.gz",
    "train-labels": "train-labels-idx1-ubyte.gz",
    "t10k-images": "t10k-images-idx3-ubyte.gz",
    "t10k-labels": "t10k-labels-idx1-ubyte.gz",
}


@dataclass(frozen=True)
class FileSpec:
    role: str  # one of FILE_ROLES
    filename: str  # the name on the mirrors and in the cache
    payload_sha256: str | None = None  # of the decompressed IDX bytes
    archive_sha256: str | None = None  # of the .gz exactly as the publisher serves it
    archive_md5: str | None = None  # ditto; md5 is what torchvision pins


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    description_ja: str
    class_names: tuple[str, ...]
    license: str
    citation: str
    homepage: str
    mirrors: tuple[str, ...] = ()  # base URLs ending in "/", https only
    files: tuple[FileSpec, ...] = ()  # empty for embedded datasets

    @property
    def embedded(self) -> bool:
        return not self.files

    def file(self, role: str) -> FileSpec:
        return next(f for f in self.files if f.role == role)


def _files(hashes: dict[str, tuple[str | None, str | None, str | None]]) -> tuple[FileSpec, ...]:
    return tuple(
        FileSpec(role, STANDARD_NAMES[role], *hashes[role]) for role in FILE_ROLES
    )


DIGIT_NAMES = tuple(str(d) for d in range(10))

# MNIST.
# payload sha256 t10k: ../shared/data/README.md (computed from the original files there).
# payload sha256 train: published by several independent projects that decompress and pin
#   the IDX bytes (e.g. a Rust `dataset` crate's mnist.rs, a Makefile "SHA-256 checksums for
#   uncompressed IDX files", a cvdf-mirror download script); each of them lists exactly our
#   t10k values too, which we verified locally. Not verifiable here (no train files).
# archive sha256: torchvision prototype datasets (_builtin/mnist.py); the t10k ones equal
#   the .gz sha256 in ../shared/data/README.md.
# archive md5: torchvision datasets/mnist.py (= the publisher's), t10k confirmed by the README.
MNIST = Source(
    name="mnist",
    description="MNIST handwritten digits: 60,000 train + 10,000 test, 28x28 grey, 10 classes",
    description_ja="MNIST 手書き数字: 訓練 60,000 + テスト 10,000 枚、"
    "28x28 グレースケール、10 クラス",
    class_names=DIGIT_NAMES,
    license="CC BY-SA 3.0 (Y. LeCun, C. Cortes)",
    citation="Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-based learning applied to "
    "document recognition. Proc. IEEE 86(11), 1998.",
    homepage="http://yann.lecun.com/exdb/mnist/",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    files=_files({
        "train-images": (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        ),
        "train-labels": (
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "d53e105ee54ea40749a09fcbcd1e9432",
        ),
        "t10k-images": (
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "9fb629c4189551a2d022fa330f9573f3",
        ),
        "t10k-labels": (
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "ec29112dd5afa0611ce80d1b7f02629c",
        ),
    }),
)

# Fashion-MNIST.
# payload sha256: ../shared/data/README.md, second column (computed here from Debian's
#   files, whose decompressed bytes are the publisher's; several independent projects pin
#   the same four values).
# archive sha256: torchvision prototype datasets (_builtin/mnist.py), the publisher's .gz.
# archive md5: torchvision datasets/mnist.py, as listed in the publisher's README.
# Mirrors: the publisher's GitHub repository, then the REST (https) endpoint of the S3
#   bucket behind the publisher's http-only "s3-website" address; the latter could not be
#   tried from here, the checksums make a wrong answer harmless.
FASHION_MNIST = Source(
    name="fashion-mnist",
    description="Fashion-MNIST (Zalando): 60,000 train + 10,000 test, 28x28 grey, "
    "10 clothing classes",
    description_ja="Fashion-MNIST (Zalando): 訓練 60,000 + テスト 10,000 枚、"
    "28x28 グレースケール、衣料品 10 クラス",
    class_names=(
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
    license="MIT (Zalando SE, 2017)",
    citation="H. Xiao, K. Rasul, R. Vollgraf. Fashion-MNIST: a Novel Image Dataset for "
    "Benchmarking Machine Learning Algorithms. arXiv:1708.07747, 2017.",
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    mirrors=(
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        "https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
    ),
    files=_files({
        "train-images": (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        ),
        "train-labels": (
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "25c81989df183df01b3e8a0aad5dffbe",
        ),
        "t10k-images": (
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "bef4ecab320f06d8554ea6380940ec79",
        ),
        "t10k-labels": (
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "bb300cfdad3c16e7a12a480ee83cd310",
        ),
    }),
)

# Kuzushiji-MNIST. No published hash of the decompressed payload was found, so only the
# archives are pinned (a re-compressed copy is rejected; load it with --data-dir instead).
# archive sha256: torchvision prototype datasets (_builtin/mnist.py); the same values in
#   torchvision-ruby (kmnist.rb) and other projects.
# archive md5: torchvision datasets/mnist.py (class KMNIST).
# Class names: the characters of the publisher's kmnist_classmap.csv, labels 0..9 =
#   U+304A U+304D U+3059 U+3064 U+306A U+306F U+307E U+3084 U+308C U+3092 (torchvision
#   romanises the same order as o, ki, su, tsu, na, ha, ma, ya, re, wo).
KMNIST = Source(
    name="kmnist",
    description="Kuzushiji-MNIST: cursive classical Japanese hiragana, 60,000 train + "
    "10,000 test, 28x28 grey, 10 classes",
    description_ja="くずし字 MNIST: 古典籍のくずし字ひらがな、訓練 60,000 + テスト 10,000 枚、"
    "28x28 グレースケール、10 クラス",
    class_names=("お", "き", "す", "つ", "な", "は", "ま", "や", "れ", "を"),
    license="CC BY-SA 4.0 (ROIS-DS Center for Open Data in the Humanities)",
    citation="T. Clanuwat, M. Bober-Irizar, A. Kitamoto, A. Lamb, K. Yamamoto, D. Ha. Deep "
    "Learning for Classical Japanese Literature. arXiv:1812.01718, 2018.",
    homepage="https://github.com/rois-codh/kmnist",
    mirrors=("https://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
    files=_files({
        "train-images": (
            None,
            "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
            "bdb82020997e1d708af4cf47b453dcf7",
        ),
        "train-labels": (
            None,
            "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
            "e144d726b3acfaa3e44228e80efcd344",
        ),
        "t10k-images": (
            None,
            "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
            "5c965bf0a639b31b8f53240b1b52f4d7",
        ),
        "t10k-labels": (
            None,
            "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
            "7320c461ea6c1c855c0b718fb2a4b134",
        ),
    }),
)

DIGITS = Source(
    name="digits",
    description="UCI handwritten digits embedded in scikit-learn: 1,797 images, 8x8, "
    "values 0..16, no network needed",
    description_ja="scikit-learn 同梱の UCI 手書き数字: 1,797 枚、8x8、画素値 0..16、"
    "ネットワーク不要",
    class_names=DIGIT_NAMES,
    license="UCI Machine Learning Repository; shipped with scikit-learn (BSD-3-Clause)",
    citation="E. Alpaydin, C. Kaynak. Optical Recognition of Handwritten Digits. UCI Machine "
    "Learning Repository, 1998 (scikit-learn ships its test set).",
    homepage="https://archive.ics.uci.edu/ml/datasets/Optical+Recognition+of+Handwritten+Digits",
)

SOURCES: dict[str, Source] = {s.name: s for s in (MNIST, FASHION_MNIST, KMNIST, DIGITS)}


def get_source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), list(SOURCES), n=1, cutoff=0.5)
        raise DataError(
            f"unknown dataset {name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
            f"use one of: {', '.join(SOURCES)} (or `auto`)",
        ) from None
