"""``neuroonco models add|list|remove|download|hash|adapter|key|ask``."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from engine.cli.common import database, print_json, terminal_progress
from engine.errors import InvalidInputError


def register(subparsers) -> None:  # noqa: ANN001
    parser = subparsers.add_parser("models", help="register, list, download and try models")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    add = actions.add_parser("add", help="register a local model or an OpenAI-compatible server")
    add.add_argument("name", help="a unique name for the model")
    add.add_argument("--backend", required=True, choices=["transformers", "llama.cpp", "openai"])
    add.add_argument("--path", help="Hugging Face model folder, or the text-model GGUF file")
    add.add_argument("--mmproj", help="the vision projector GGUF file of a llama.cpp model")
    add.add_argument("--base-url", help="server URL of an openai model, e.g. http://127.0.0.1:8080/v1")
    add.add_argument("--server-model", help="the model name the server lists under /models")
    add.add_argument("--api-key-env", metavar="VARIABLE",
                     help="environment variable holding the API key (else the OS keyring is used)")
    add.add_argument("--family", help="model family (default: detected from config.json or GGUF metadata)")
    add.add_argument("--revision", help="revision or commit the files come from")
    add.add_argument("--licence", help="licence or terms of use of the weights")
    add.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="a backend setting, e.g. n_gpu_layers=-1 or dtype=bf16 (JSON values); repeatable")
    add.add_argument("--trust-remote-code", action="store_true",
                     help="run Python code shipped with this model (transformers); read it first")
    hashing = add.add_mutually_exclusive_group()
    hashing.add_argument("--no-hash", action="store_true", help="do not hash the weights")
    hashing.add_argument("--hash-in-background", action="store_true",
                         help="register now and queue a models.hash job for a worker")
    add.add_argument("--json", action="store_true", help="print the registered model as JSON")
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="list registered models")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)

    remove = actions.add_parser("remove", help="unregister a model (its files stay on disk)")
    remove.add_argument("name")
    remove.set_defaults(handler=_remove)

    download = actions.add_parser("download", help="download a model from the Hugging Face hub and register it")
    download.add_argument("repo_id", help="hub repository, e.g. HuggingFaceTB/SmolVLM-256M-Instruct")
    download.add_argument("--name", required=True, help="the name to register the model under")
    download.add_argument("--revision", help="branch, tag or commit (default: main)")
    download.add_argument("--cache-dir", help="download folder (default: the Hugging Face cache)")
    download.add_argument("--gguf", metavar="FILE", help="download only this GGUF file (llama.cpp model)")
    download.add_argument("--mmproj", metavar="FILE", help="the mmproj GGUF file to download with --gguf")
    download.add_argument("--licence", help="licence or terms of use of the weights")
    download.add_argument("--background", action="store_true",
                          help="queue a models.download job for a worker instead (it queues models.hash)")
    download.set_defaults(handler=_download)

    hash_parser = actions.add_parser("hash", help="hash a registered model's weights now or in the background")
    hash_parser.add_argument("name")
    hash_parser.add_argument("--background", action="store_true", help="queue a models.hash job instead")
    hash_parser.set_defaults(handler=_hash)

    adapter = actions.add_parser("adapter", help="register or remove a PEFT adapter of a transformers model")
    adapter_actions = adapter.add_subparsers(dest="adapter_action", metavar="ACTION")
    adapter_actions.required = True
    adapter_add = adapter_actions.add_parser("add", help="register an adapter folder")
    adapter_add.add_argument("model")
    adapter_add.add_argument("adapter_name")
    adapter_add.add_argument("path")
    adapter_add.set_defaults(handler=_adapter_add)
    adapter_remove = adapter_actions.add_parser("remove", help="unregister an adapter")
    adapter_remove.add_argument("model")
    adapter_remove.add_argument("adapter_name")
    adapter_remove.set_defaults(handler=_adapter_remove)

    key = actions.add_parser("key", help="store or delete an openai model's API key in the OS keyring")
    key_actions = key.add_subparsers(dest="key_action", metavar="ACTION")
    key_actions.required = True
    key_set = key_actions.add_parser("set", help="read the key from the terminal (or standard input)")
    key_set.add_argument("name")
    key_set.set_defaults(handler=_key_set)
    key_delete = key_actions.add_parser("delete", help="delete the stored key")
    key_delete.add_argument("name")
    key_delete.set_defaults(handler=_key_delete)

    ask = actions.add_parser("ask", help="ask a registered model one question about one image")
    ask.add_argument("name")
    ask.add_argument("--image", required=True, help="image file (PNG, JPEG...)")
    ask.add_argument("--question", required=True)
    ask.add_argument("--option", action="append", default=[], metavar="LETTER=TEXT",
                     help="an answer option, e.g. A=Glioma; repeatable (none: an open question)")
    ask.add_argument("--template", help="prompt template id (default: closed-letter, or open without options)")
    ask.add_argument("--mode", choices=["generate", "letters"], default="generate")
    ask.add_argument("--adapter", help="one of the model's registered adapters")
    ask.add_argument("--max-new-tokens", type=int)
    ask.set_defaults(handler=_ask)


def _parse_settings(pairs: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"--set '{pair}' is not KEY=VALUE")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def _add(args: argparse.Namespace) -> int:
    from engine.inference import registry

    settings = _parse_settings(args.set)
    if args.trust_remote_code:
        settings["trust_remote_code"] = True
    compute = not (args.no_hash or args.hash_in_background)
    with terminal_progress(args, "hashing weights") as progress:
        record = registry.add_model(
            database(args), args.name, args.backend, path=args.path, mmproj_path=args.mmproj,
            base_url=args.base_url, server_model=args.server_model, api_key_env=args.api_key_env,
            family=args.family, revision=args.revision, licence=args.licence, settings=settings,
            compute_hash=compute, progress=progress)
    if args.hash_in_background and record.backend != "openai":
        from engine.jobs import submit

        job_id = submit(database(args), "models.hash", {"name": record.name})
        print(f"queued job {job_id} to hash the weights; a running 'neuroonco worker' picks it up",
              file=sys.stderr)
    if args.json:
        print_json(record.as_dict())
    else:
        print(f"registered {record.name} ({record.backend}, family {record.family or '?'}, "
              f"{record.quantization or 'unknown precision'}, sha256 {record.sha256 or 'not computed'})")
    return 0


def _list(args: argparse.Namespace) -> int:
    from engine.inference import registry

    records = registry.list_models(database(args))
    if args.json:
        print_json([record.as_dict() for record in records])
        return 0
    for record in records:
        where = record.base_url if record.backend == "openai" else record.path
        adapters = f"  adapters: {', '.join(a.name for a in record.adapters)}" if record.adapters else ""
        print(f"{record.name:<28} {record.backend:<12} {record.family or '-':<14} "
              f"{record.quantization or '-':<10} {(record.sha256 or '-')[:12]:<12} {where}{adapters}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from engine.inference import registry

    registry.remove_model(database(args), args.name)
    print(f"removed {args.name}; its files were not deleted")
    return 0


def _download(args: argparse.Namespace) -> int:
    from engine.inference import hub, registry

    patterns = hub.file_patterns(args.gguf, args.mmproj)
    name = registry.check_new_name(database(args), args.name)
    if args.background:
        from engine.jobs import submit

        # The worker may run in another folder, so a relative --cache-dir is resolved here.
        cache_dir = str(Path(args.cache_dir).expanduser().resolve()) if args.cache_dir else None
        params = {"repo_id": args.repo_id, "name": name, "revision": args.revision, "cache_dir": cache_dir,
                  "gguf": args.gguf, "mmproj": args.mmproj, "licence": args.licence}
        print(submit(database(args), "models.download", {k: v for k, v in params.items() if v}))
        return 0
    with terminal_progress(args, f"downloading {args.repo_id}", unit="bytes") as progress:
        folder, commit = hub.download(args.repo_id, revision=args.revision, cache_dir=args.cache_dir,
                                      allow_patterns=patterns, progress=progress)
    backend, path, mmproj = hub.model_paths(folder, args.gguf, args.mmproj)
    with terminal_progress(args, "hashing weights") as progress:
        record = registry.add_model(database(args), name, backend, path=path, mmproj_path=mmproj,
                                    revision=commit, licence=args.licence,
                                    progress=progress)
    print(f"registered {record.name} from {args.repo_id} at {commit} ({record.path})")
    return 0


def _hash(args: argparse.Namespace) -> int:
    from engine.inference import registry

    if args.background:
        from engine.jobs import submit

        registry.get_model(database(args), args.name)
        print(submit(database(args), "models.hash", {"name": args.name}))
        return 0
    with terminal_progress(args, "hashing weights") as progress:
        record = registry.store_hashes(database(args), args.name, progress)
    print(f"{record.name}: sha256 {record.sha256}")
    return 0


def _adapter_add(args: argparse.Namespace) -> int:
    from engine.inference import registry

    with terminal_progress(args, "hashing adapter") as progress:
        adapter = registry.add_adapter(database(args), args.model, args.adapter_name, args.path,
                                       progress=progress)
    print(f"registered adapter {adapter.name} of {args.model} (sha256 {adapter.sha256})")
    return 0


def _adapter_remove(args: argparse.Namespace) -> int:
    from engine.inference import registry

    registry.remove_adapter(database(args), args.model, args.adapter_name)
    print(f"removed adapter {args.adapter_name} of {args.model}")
    return 0


def _key_set(args: argparse.Namespace) -> int:
    from engine.inference import api_keys, registry

    record = registry.get_model(database(args), args.name)
    if record.backend != "openai":
        raise InvalidInputError(f"model '{args.name}' runs locally ({record.backend}) and needs no API key")
    key = getpass.getpass(f"API key for {args.name}: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    api_keys.store_api_key(args.name, key)
    print(f"stored the API key of {args.name} in the OS keyring")
    return 0


def _key_delete(args: argparse.Namespace) -> int:
    from engine.inference import api_keys

    if api_keys.delete_api_key(args.name):
        print(f"deleted the API key of {args.name} from the OS keyring")
    else:
        print(f"the OS keyring has no API key for {args.name}")
    return 0


def _ask(args: argparse.Namespace) -> int:
    from engine.inference import answer_fields, load_template, open_backend

    options = {}
    for pair in args.option:
        letter, sep, text = pair.partition("=")
        if not sep or len(letter.strip()) != 1:
            raise InvalidInputError(f"--option '{pair}' is not LETTER=TEXT")
        options[letter.strip().upper()] = text.strip()
    if args.mode == "letters" and not options:
        raise InvalidInputError("--mode letters needs --option values (a closed question)")
    template = load_template(args.template or ("closed-letter" if options else "open"))
    variables: dict[str, Any] = {"question": args.question}
    if options:
        variables["options"] = options
    overrides = {"max_new_tokens": args.max_new_tokens} if args.max_new_tokens else {}
    request = template.request(image=args.image, settings=template.default_settings(**overrides),
                               **variables)
    with open_backend(args.name, database(args), adapter=args.adapter) as backend:
        run = backend.letter_probabilities if args.mode == "letters" else backend.generate
        result = run([request])[0]
    fields = answer_fields(result)
    print_json({"text": result.text, "letter_probs": result.letter_probs,
                "letter_mass": result.letter_mass, "predicted_letter": result.predicted_letter,
                "latency_ms": fields["latency_ms"], "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens, "provenance": fields["provenance"]})
    return 0
