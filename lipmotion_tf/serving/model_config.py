"""TensorFlow Serving's model config file (``--model_config_file``) for ``lipmotion serve``.

``read_model_config_file(path)`` parses a text ``tensorflow.serving.ModelServerConfig`` (the
format of ``export/tf_serving/models.config``) and says which model ``lipmotion serve`` loads:
its name, its base path, the version folder the version policy chooses, and its version
labels. The development server serves one model and one version of it, chosen at start
(it does not poll the file or the folder). What it cannot honour is refused with one line,
before anything loads:

===================================================  ===========================================
in the file                                          lipmotion serve
===================================================  ===========================================
one ``model_config_list`` entry                      serves it
several models, ``custom_model_config``, none        refused
``base_path`` absolute                               read as a local folder; must exist here
``base_path`` relative                               refused, as TF Serving refuses it
``base_path`` a URI (``gs://``, ``s3://``, ...)      refused (local folders only)
``model_platform`` other than ``tensorflow``         refused
no version policy, ``latest`` (``num_versions`` 1)   the highest version
``latest { num_versions: N }``, N > 1                refused (one version at a time)
``specific { versions: V }``                         version V (refused if not in the folder)
``specific`` with several versions                   refused
``all``                                              the only version; refused if there are more
``version_labels``                                   answered for labels of the loaded version;
                                                     a label of another version is refused
``logging_config``                                   refused (no request logging)
===================================================  ===========================================
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from lipmotion_tf.errors import InputError

# What TensorFlow Serving calls a URI in a base path: a scheme before "://".
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclasses.dataclass(frozen=True)
class ModelChoice:
    """The model a config file names and the version ``lipmotion serve`` loads.

    Attributes:
        name: what clients put in ``model_spec.name``.
        base_path: the folder of numbered versions.
        version: the version folder to load (``base_path / str(version)``).
        version_labels: ``{label: version}``; every label names ``version``.
        source: the config file.
    """

    name: str
    base_path: Path
    version: int
    version_labels: dict
    source: Path


def parse_model_server_config(path: str | Path):
    """The ``ModelServerConfig`` message written in ``path`` (text format).

    Raises:
        InputError: the file is missing, not UTF-8 text or not a text ModelServerConfig.
    """
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.start}: {error.reason})") from None
    except OSError as error:
        raise InputError(f"cannot read model config file {path}: "
                         f"{error.strerror or error}") from None
    try:
        return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    except text_format.ParseError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "empty"
        raise InputError(f"{path}: not a text ModelServerConfig ({first_line})") from None


def read_model_config_file(path: str | Path) -> ModelChoice:
    """Parses a TF Serving model config file and chooses the model and version to serve.

    Raises:
        InputError: the file cannot be read or parsed, its base path is missing here or
            holds no version, or it asks for something ``lipmotion serve`` cannot do (see
            the module's table); one line naming the file.
    """
    from tensorflow_serving.config import model_server_config_pb2

    from lipmotion_tf.export.saved_model import SAVED_MODEL_FILE, model_versions

    path = Path(path)
    config = parse_model_server_config(path)

    def refuse(message: str) -> InputError:
        return InputError(f"{path}: {message}")

    choice = config.WhichOneof("config")
    if choice == "custom_model_config":
        raise refuse("custom_model_config is not supported; list the model in "
                     "model_config_list")
    models = list(config.model_config_list.config) if choice else []
    if not models:
        raise refuse("names no model (expected model_config_list { config { name: ... "
                     "base_path: ... } })")
    if len(models) > 1:
        names = ", ".join(f'"{model.name}"' for model in models)
        raise refuse(f"lists {len(models)} models ({names}); lipmotion serve serves one: "
                     "keep one config entry, or run tensorflow_model_server")
    (model,) = models
    name = f'model "{model.name}"'
    if not model.name:
        raise refuse("the model has no name (clients send it in model_spec.name)")
    if not model.base_path:
        raise refuse(f"{name} has no base_path")
    if URI.match(model.base_path):
        raise refuse(f"{name} has base_path {model.base_path}: lipmotion serve reads local "
                     "folders only")
    base = Path(model.base_path)
    if not base.is_absolute():
        # TensorFlow Serving's own check (server_core.cc), so that a file working here works
        # there too.
        raise refuse(f"expected {name} to have an absolute path; got base_path "
                     f"\"{model.base_path}\"")
    platform = model.model_platform or (
        "tensorflow" if model.model_type == model_server_config_pb2.TENSORFLOW else "")
    if platform != "tensorflow":
        raise refuse(f"{name} has model_platform \"{model.model_platform}\"; lipmotion serve "
                     "serves \"tensorflow\" SavedModels")
    if model.HasField("logging_config"):
        raise refuse("logging_config is not supported by lipmotion serve (no request "
                     "logging); remove it")
    if not base.is_dir():
        raise refuse(f"model base path of {name} not found: {base} (base_path is read on "
                     "this machine; a container path such as /models/... must be replaced by "
                     "the local folder, see export/README.md)")
    versions = model_versions(base)
    if not versions:
        raise refuse(f"{base} holds no model version (expected {base}/<number>/"
                     f"{SAVED_MODEL_FILE})")

    policy = model.model_version_policy
    kind = policy.WhichOneof("policy_choice") or "latest"
    if kind == "latest":
        count = policy.latest.num_versions or 1  # TF Serving's default is 1
        if count > 1:
            raise refuse(f"model_version_policy latest {{ num_versions: {count} }}: "
                         "lipmotion serve loads one version; use num_versions: 1")
        version = versions[-1]
    elif kind == "specific":
        wanted = sorted(set(policy.specific.versions))
        if len(wanted) != 1:
            listed = "none" if not wanted else ", ".join(map(str, wanted))
            raise refuse(f"model_version_policy specific lists versions {listed}; lipmotion "
                         "serve loads exactly one: list one version")
        version = wanted[0]
        if version not in versions:
            raise refuse(f"version {version} of {name} not found in {base} (it holds "
                         f"{', '.join(map(str, versions))})")
    else:  # all
        if len(versions) > 1:
            raise refuse(f"model_version_policy all: {base} holds versions "
                         f"{', '.join(map(str, versions))} and lipmotion serve loads one; "
                         "use latest or specific")
        version = versions[0]

    labels = dict(model.version_labels)
    others = {label: number for label, number in labels.items() if number != version}
    if others:
        label, number = sorted(others.items())[0]
        raise refuse(f"version label \"{label}\" names version {number}, but lipmotion serve "
                     f"loads version {version} only")
    return ModelChoice(model.name, base, version, labels, path)
