"""Deploy the app as a Hugging Face Space: app.py, the rnnlm package, the bundled checkpoints, in one commit.

    plan = plan_space("you/space", models=["lstm=you/rnnlm-lstm@v1"])   # what would go up; sends nothing
    deploy(plan)                                                          # the commit URL

The Space holds app.py, rnnlm/ (no __pycache__), checkpoints/<type>/ for every registered type and
checkpoints/<set>/<model>/ for every other bundled model set that is built here (the files push uploads, never
resume/), README.md (its front matter configures the Space), LICENSE, and a
requirements.txt written here: the repository's minus torch, since the app runs every model in numpy,
or with a CPU-only torch of the pinned version. A model given as a Hub id becomes the Space variable
RNNLM_<TYPE> (RNNLM_<SET>_<MODEL> for SET/MODEL) that the app reads (rnnlm.playground.loading); one given as a
folder replaces the bundled one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from huggingface_hub import CommitOperationAdd, HfApi

from . import store
from .checkpoint import CONFIG_NAME
from .hub import FOLDER_FILES, HubRef, hub_errors, hub_ref, parse_hub_id
from .models import MODELS, spec_for
from .modelsets import MODEL_SETS, model_set
from .playground.loading import DEFAULT_SET, env_var

REPO = Path(__file__).resolve().parents[1]
TOP_FILES = ("app.py", "README.md", "LICENSE")  # copied as they are; requirements.txt is written per Space
REQUIREMENTS = "requirements.txt"
# The CPU wheels: the default index's Linux torch pulls several GB of CUDA packages a CPU Space cannot use.
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")  # a requirement line's project name


@dataclass(frozen=True)
class SpaceFile:
    """One file of the Space: its path there, and a local file or the bytes to upload."""

    path: str
    source: Path | bytes

    @property
    def size(self) -> int:
        return len(self.source) if isinstance(self.source, bytes) else self.source.stat().st_size


@dataclass
class SpacePlan:
    """What a deploy sends: the files of one commit, the Space variables, and notes for the person deploying."""

    repo_id: str
    files: list[SpaceFile]
    variables: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def space_requirements(text: str, with_torch: bool = False) -> str:
    """The Space's requirements.txt from the repository's: without torch, or with the pinned torch from the CPU index
    and gradio's OAuth extra (the Train tab trains, and signs in to push)."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    torch = [line for line in lines if _project(line) == "torch"]
    rest = [line for line in lines if _project(line) != "torch"]
    header = "# written by `python -m rnnlm deploy-space` from the repository's requirements.txt\n"
    if not with_torch:
        return header + "".join(line + "\n" for line in rest)
    if len(torch) != 1 or not re.fullmatch(r"torch\s*==\s*[\w.+]+", torch[0]):
        raise ValueError(f"--with-torch needs one pinned `torch==VERSION` line in {REQUIREMENTS}, found {torch or 'none'}")
    pinned = torch[0].replace(" ", "")
    # training features bring the Train tab, whose "Sign in with Hugging Face" needs gradio's OAuth extra
    rest = [re.sub(r"^gradio(?=\s*==)", "gradio[oauth]", line) if _project(line) == "gradio" else line for line in rest]
    return header + f"--extra-index-url {CPU_TORCH_INDEX}\n{pinned}\n" + "".join(line + "\n" for line in rest)


def _project(line: str) -> str | None:
    """The normalised project name a requirement line names (None for options such as --index-url)."""
    match = _NAME.match(line)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else None


def front_matter(readme: Path) -> dict:
    """The README's YAML front matter, checked to configure a Gradio Space; a ValueError saying what is wrong."""
    text = readme.read_text(encoding="utf-8")
    match = re.match(r"---\r?\n(.*?)\r?\n---\r?\n", text, re.DOTALL)
    if not match:
        raise ValueError(f"{readme.name} has no front matter (a `---` YAML block at the top): the Space needs it")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 2}, column {where.column + 1}" if where else ""  # +2: the `---` line, 1-based
        raise ValueError(f"{readme.name}'s front matter is not valid YAML{at}: {getattr(e, 'problem', e)} "
                         "(quote a value that holds ': ', e.g. short_description: \"a: b\"); the Hub refuses it") from None
    if not isinstance(meta, dict) or meta.get("sdk") != "gradio" or meta.get("app_file") != "app.py":
        raise ValueError(f"{readme.name}'s front matter must say `sdk: gradio` and `app_file: app.py`")
    return meta


def parse_models(given) -> tuple[dict[str, str], dict[str, Path]]:
    """TYPE=SOURCE (a Shakespeare model) or SET/MODEL=SOURCE strings as (Space variables for Hub ids, TYPE or
    SET/MODEL -> local folder); a ValueError for a bad one."""
    variables, folders = {}, {}
    for item in given:
        name, sep, source = str(item).partition("=")
        name, source = name.strip(), source.strip()
        if not sep or not source:
            raise ValueError(f"--model {item!r}: expected TYPE=SOURCE or SET/MODEL=SOURCE, e.g. "
                             "lstm=you/rnnlm-lstm@v1, lstm=runs/lstm or sherlock-words/lstm=you/sherlock-lstm")
        set_name, _, model = name.rpartition("/")
        if set_name:
            model_set(set_name).model(model)  # an unknown set or model is refused, listing the known ones
        else:
            spec_for(name)  # an unknown type is refused, listing the known ones
        var = env_var(model, set_name or DEFAULT_SET)
        if name in folders or var in variables:
            raise ValueError(f"--model {name} is given twice")
        ref = hub_ref(source)
        if ref is not None:
            variables[var] = str(ref)
        elif Path(source).expanduser().is_dir():
            folders[name] = Path(source).expanduser()
        else:
            raise ValueError(f"--model {name}={source}: neither a folder nor a Hub repo id owner/name[@revision]")
    return variables, folders


def _checkpoint_files(name: str, folder: Path, model_type: str | None = None) -> list[SpaceFile]:
    """checkpoints/<name>/ (name: a type, or SET_FOLDER/MODEL) from folder: the model, its card and records (never
    resume/), once it loads as a model_type (name by default)."""
    model_type = model_type or name
    model = store.load(folder, inference=True)  # weights that do not load are not published
    if model.config.model_type != model_type:
        raise ValueError(f"{folder} holds a {model.config.model_type} model, not a {model_type}")
    return [SpaceFile(f"checkpoints/{name}/{file}", folder / file) for file in FOLDER_FILES if (folder / file).is_file()]


def plan_space(repo_id: str, models=(), with_torch: bool = False, checkpoints: str | Path | None = None,
               root: Path | None = None) -> SpacePlan:
    """The files and variables a deploy of the app in root (default: this repository) to Space repo_id sends."""
    ref = parse_hub_id(repo_id)
    if ref is None or ref.revision:
        raise ValueError(f"{repo_id!r} is not a Space id: expected owner/name")
    root = Path(root) if root is not None else REPO
    checkpoints = Path(checkpoints) if checkpoints is not None else root / "checkpoints"
    variables, folders = parse_models(models)
    missing = [name for name in (*TOP_FILES, REQUIREMENTS, "rnnlm") if not (root / name).exists()]
    if missing:
        raise FileNotFoundError(f"{root} is not the rnnlm repository: no {', '.join(missing)}")
    front_matter(root / "README.md")

    files = [SpaceFile(name, root / name) for name in TOP_FILES]
    requirements = space_requirements((root / REQUIREMENTS).read_text(encoding="utf-8"), with_torch)
    files.append(SpaceFile(REQUIREMENTS, requirements.encode("utf-8")))
    files += [SpaceFile(path.relative_to(root).as_posix(), path) for path in sorted((root / "rnnlm").rglob("*"))
              if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo")]
    notes = []
    for name in MODELS:
        folder = folders.get(name, checkpoints / name)
        if (folder / CONFIG_NAME).is_file():
            files += _checkpoint_files(name, folder)
        elif name in folders:
            raise FileNotFoundError(f"--model {name}={folder}: no {CONFIG_NAME} there")
        elif env_var(name) not in variables:
            notes.append(f"no checkpoint for {name} in {checkpoints}: the Space will show {MODELS[name].label} "
                         f"as unavailable (give --model {name}=OWNER/NAME to serve one from the Hub)")
    for spec in MODEL_SETS.values():
        if not spec.folder:
            continue  # the Shakespeare set: the models above
        found = []
        for m in spec.models:
            key = f"{spec.name}/{m.name}"
            folder = folders.get(key, checkpoints / spec.folder / m.name)
            if (folder / CONFIG_NAME).is_file():
                found += _checkpoint_files(f"{spec.folder}/{m.name}", folder, m.model_type)
            elif key in folders:
                raise FileNotFoundError(f"--model {key}={folder}: no {CONFIG_NAME} there")
        files += found
        hub = [v for v in variables if v.startswith(env_var("", spec.name))]
        if not found and not hub:
            notes.append(f"no checkpoints of the {spec.label} set in {checkpoints / spec.folder}: the Space will leave "
                         f"it out (build it with `python checkpoints/build.py --set {spec.name}`)")
    return SpacePlan(ref.repo_id, sorted(files, key=lambda f: f.path), variables, notes)


def deploy(plan: SpacePlan, private: bool = False, token: str | None = None) -> str:
    """Create the Space if needed, set its variables, upload plan's files in one commit; returns the commit URL.

    The variables go first, so the build the commit starts already sees them. private only applies to a new Space.
    """
    operations = [CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=f.source if isinstance(f.source, bytes)
                                     else str(f.source)) for f in plan.files]
    api = HfApi(token=token)  # built per call: HfApi reads the endpoint when it is created
    with hub_errors(HubRef(plan.repo_id)):
        repo = api.create_repo(plan.repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
        for key, value in plan.variables.items():
            api.add_space_variable(repo.repo_id, key, value, description="set by `python -m rnnlm deploy-space`")
        commit = api.create_commit(repo.repo_id, operations, repo_type="space",
                                   commit_message="Deploy the rnnlm app (python -m rnnlm deploy-space)")
    return commit.commit_url
