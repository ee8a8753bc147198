"""Static checks for PowerShell that cannot be run here (DESIGN §3), on tree-sitter-powershell.

Used by the agent's tests; each check returns a list of problems (strings naming the line), empty
when the script is fine, so a test can assert both that the agent passes and that a broken snippet
does not. The agent's tests check AGENT_SCRIPT as agent/*.ps1 build it (build_from_sources) and name
each problem's file and line with locate().
"""
from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import tree_sitter
import tree_sitter_powershell
from smhv_lab.hyperv import agent_source

REPO = Path(__file__).resolve().parents[3]
AGENT_PACKAGE = REPO / "plugins" / "module_utils" / "agent"
BUILD_SCRIPT = REPO / "scripts" / "build_agent.py"
CATALOG_SUBSET = REPO / "tests" / "data" / "pscatalog" / "cmdlets.json"
# The full catalog (../shared/pscatalog) where this checkout has it; only the subset is committed.
FULL_CATALOG = Path(os.environ.get("SMHV_PSCATALOG", str(REPO.parent / "shared" / "pscatalog" / "cmdlets.json")))

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))

# Get-Verb on Windows PowerShell 5.1.
APPROVED_VERBS = frozenset("""
Add Clear Close Copy Enter Exit Find Format Get Hide Join Lock Move New Open Optimize Pop Push Redo Remove
Rename Reset Resize Search Select Set Show Skip Split Step Switch Undo Unlock Watch Backup Checkpoint Compare
Compress Convert ConvertFrom ConvertTo Dismount Edit Expand Export Group Import Initialize Limit Merge Mount Out
Publish Restore Save Sync Unpublish Update Approve Assert Complete Confirm Deny Disable Enable Install Invoke
Register Request Restart Resume Start Stop Submit Suspend Uninstall Unregister Wait Debug Measure Ping Repair
Resolve Test Trace Connect Disconnect Read Receive Send Write Block Grant Protect Revoke Unblock Unprotect Use
""".split())

# Commands that run text as code, load code, or write around the one-JSON-document output.
FORBIDDEN_COMMANDS = {
    "invoke-expression": "runs a string as code",
    "iex": "runs a string as code",
    "add-type": "compiles code",
    "invoke-command": "runs a script block, possibly remote",
    "new-module": "builds a module from a script block",
    "start-job": "runs a script block in another process",
    "write-host": "writes to the console, around the agent's single JSON answer",
}
# Members that create or run script text.
FORBIDDEN_MEMBERS = {"invokescript", "newscriptblock", "expandstring", "addscript", "invokecommand"}
# Types whose factories run script text: [scriptblock]::Create, [powershell]::Create().AddScript.
SCRIPT_TYPES = {"scriptblock", "system.management.automation.scriptblock", "powershell",
                "system.management.automation.powershell", "runspacefactory"}
# The oldest platform the agent supports; ServerManager's pages start at 2022 although
# Get-WindowsFeature has shipped with every Windows Server since 2008 R2.
SUPPORTED_VERSIONS = {"WindowsPowerShell5.1", "WindowsServer2016"}
VERSION_EXEMPT_MODULES = {"ServerManager"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LINE_PREFIX = re.compile(r"^line (\d+):")


def load_agent():
    """plugins/module_utils/agent as a module, by path (no collection install needed), as the lab loads it."""
    return agent_source.load_agent(AGENT_PACKAGE)


def load_build():
    """scripts/build_agent.py as a module."""
    spec = importlib.util.spec_from_file_location("smhv_build_agent", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_from_sources():
    """The agent's generated module as agent/*.ps1 make it now (AGENT_SCRIPT, BOOTSTRAP_SCRIPT, source_of), not written anywhere."""
    build = load_build()
    return build.load(build.generate())


def locate(problems: list[str], source_of) -> list[str]:
    """Problems whose 'line N' is named as the file and line it comes from: 'agent/files.ps1:87: ...'."""
    located = []
    for problem in problems:
        match = _LINE_PREFIX.match(problem)
        where = source_of(int(match.group(1))) if match else None
        located.append(f"{where}:{problem[match.end():]}" if where else problem)
    return located


def load_catalog(path: Path = CATALOG_SUBSET) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=16)
def parse(source: str):
    return _PARSER.parse(source.encode("utf-8"))


def _text(node) -> str:
    return node.text.decode("utf-8")


def _line(node) -> int:
    return node.start_point[0] + 1


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def _leaf(node):
    """Down a chain of single-child wrapper nodes (expression precedence levels)."""
    while node.child_count == 1:
        node = node.children[0]
    return node


@dataclass
class Function:
    name: str
    parameters: set[str]
    advanced: bool  # [CmdletBinding()]: common parameters apply
    node: object


@dataclass
class CommandUse:
    name: str | None  # None for `& $variable` / `. { }`
    line: int
    parameters: list[str] = field(default_factory=list)
    splats: list[str] = field(default_factory=list)  # variable names without '@'
    operator: str | None = None  # '&' or '.'
    node: object = None


def syntax_errors(source: str) -> list[str]:
    tree = parse(source)
    return [f"line {_line(n)}: {'missing ' + n.type if n.is_missing else 'syntax error'} near {_text(n)[:60]!r}"
            for n in _walk(tree.root_node) if n.type == "ERROR" or n.is_missing]


def functions(source: str) -> dict[str, Function]:
    found = {}
    for node in _walk(parse(source).root_node):
        if node.type != "function_statement":
            continue
        name = _text(node.child_by_field_name("name") or next(c for c in node.children if c.type == "function_name"))
        parameters, advanced = set(), False
        block = next((c for c in node.children if c.type == "script_block"), None)
        param_block = next((c for c in block.children if c.type == "param_block"), None) if block else None
        if param_block is not None:
            for sub in _walk(param_block):
                if sub.type == "script_parameter":
                    variable = next(c for c in sub.children if c.type == "variable")
                    parameters.add(_text(variable)[1:].lower())
                if sub.type == "type_name" and _text(sub).lower() == "cmdletbinding":
                    advanced = True
        found[name.lower()] = Function(name, parameters, advanced, node)
    return found


def commands(source: str) -> list[CommandUse]:
    uses = []
    for node in _walk(parse(source).root_node):
        if node.type != "command":
            continue
        use = CommandUse(name=None, line=_line(node), node=node)
        for child in node.children:
            if child.type == "command_name":
                use.name = _text(child)
            elif child.type == "command_invokation_operator":
                use.operator = _text(child).strip()
            elif child.type == "command_elements":
                for element in child.children:
                    if element.type == "command_parameter":
                        use.parameters.append(_text(element).lstrip("-").rstrip(":"))
                        continue
                    leaf = _leaf(element)
                    if leaf.type == "variable" and _text(leaf).startswith("@"):
                        use.splats.append(_text(leaf)[1:])
        uses.append(use)
    return uses


def _enclosing_scope(node):
    while node.parent is not None and node.type != "function_statement":
        node = node.parent
    return node


def splat_keys(scope, variable: str) -> set[str] | None:
    """Keys a splatted hashtable gets in its scope: `$v = @{...}`, `$v.Key = `, `$v['Key'] = `.

    None when the variable is never assigned a hashtable literal there: then nothing can be checked.
    """
    keys, literal = set(), False
    target = "$" + variable.lower()
    for node in _walk(scope):
        if node.type != "assignment_expression":
            continue
        left = _leaf(node.children[0])
        right = _leaf(node.children[-1])
        if left.type == "variable" and _text(left).lower() == target and right.type == "hash_literal_expression":
            literal = True
            for body in (c for c in right.children if c.type == "hash_literal_body"):
                for entry in (c for c in body.children if c.type == "hash_entry"):
                    keys.add(_text(entry.children[0]).strip("'\"").lower())
        elif left.type in ("member_access", "element_access") and _text(left.children[0]).lower() == target:
            keys.add(_text(left.children[-1] if left.type == "member_access" else left.children[2]).strip("'\"").lower())
    return keys if literal else None


class Catalog:
    """Cmdlet names, parameters and aliases from the pscatalog (case-insensitive)."""

    def __init__(self, data: dict) -> None:
        self.common = {p.lower() for p in data["common_parameters"]} - {"whatif", "confirm"}
        self.cmdlets = {name.lower(): (name, entry) for name, entry in data["cmdlets"].items()}

    def __contains__(self, name: str) -> bool:
        return name.lower() in self.cmdlets

    def entry(self, name: str) -> dict:
        return self.cmdlets[name.lower()][1]

    def parameters(self, name: str) -> set[str]:
        entry = self.entry(name)
        names = {p.lower() for p in entry["parameters"]} | self.common
        # The catalog's alias lists also carry scraped notes ('Required: False'); keep real names.
        for aliases in entry.get("aliases", {}).values():
            names |= {a.lower() for a in aliases if _IDENTIFIER.match(a)}
        return names


def check_commands(source: str, catalog: Catalog, allow_dynamic: int = 0) -> list[str]:
    """Every command is an agent function or a catalog cmdlet; every -Parameter and splat key is its own.

    Parameters must be spelled out: PowerShell accepts unambiguous prefixes, but a prefix that is
    unique today may not be on the next Windows release. `& $var` (dynamic invocation) is allowed
    `allow_dynamic` times (the bootstrap's one call of the agent).
    """
    problems, dynamic = [], 0
    defined = functions(source)
    for use in commands(source):
        where = f"line {use.line}"
        if use.name is None:
            dynamic += 1
            if dynamic > allow_dynamic:
                problems.append(f"{where}: dynamic invocation ({use.operator} <expression>) cannot be checked; call a named command")
            continue
        key = use.name.lower()
        if key in defined:
            function = defined[key]
            allowed = function.parameters | (catalog.common if function.advanced else set())
            owner = f"function {function.name}"
        elif use.name in catalog:
            allowed = catalog.parameters(use.name)
            owner = f"cmdlet {catalog.cmdlets[key][0]}"
            entry = catalog.entry(use.name)
            if not (set(entry["versions"]) & SUPPORTED_VERSIONS) and entry["module"] not in VERSION_EXEMPT_MODULES:
                problems.append(f"{where}: {use.name} needs {entry['versions'][0]}; the agent supports Windows Server 2016+")
        else:
            problems.append(f"{where}: unknown command {use.name!r}: neither defined in the script nor a cmdlet in the catalog (aliases are not allowed)")
            continue
        for parameter in use.parameters:
            if parameter.lower() not in allowed:
                problems.append(f"{where}: {owner} has no parameter -{parameter}")
        for splat in use.splats:
            keys = splat_keys(_enclosing_scope(use.node), splat)
            if keys is None:
                problems.append(f"{where}: splat @{splat} is not a hashtable literal in the same function; its keys cannot be checked")
                continue
            problems += [f"{where}: {owner} has no parameter {k!r} (splatted from @{splat})" for k in sorted(keys - allowed)]
    return problems


def check_forbidden(source: str, allow_scriptblock_create: int = 0) -> list[str]:
    """No code from text: no Invoke-Expression & co., no [scriptblock]::Create (except where allowed)."""
    problems, creates = [], 0
    root = parse(source).root_node
    for use in commands(source):
        if use.name and use.name.lower() in FORBIDDEN_COMMANDS:
            problems.append(f"line {use.line}: {use.name} is forbidden: {FORBIDDEN_COMMANDS[use.name.lower()]}")
    for node in _walk(root):
        if node.type == "member_name" and _text(node).lower() in FORBIDDEN_MEMBERS:
            problems.append(f"line {_line(node)}: .{_text(node)} is forbidden: it runs script text")
        elif node.type == "variable" and _text(node).lower() == "$executioncontext":
            problems.append(f"line {_line(node)}: $ExecutionContext is forbidden: it can run script text")
        elif node.type == "invokation_expression":
            literal = next((c for c in node.children if c.type == "type_literal"), None)
            if literal is None:
                continue
            type_name = _text(literal).strip("[]").lower()
            if type_name in SCRIPT_TYPES:
                creates += 1
                if creates > allow_scriptblock_create:
                    problems.append(f"line {_line(node)}: {_text(node)[:40]!r} builds code from text")
    return problems


def check_function_names(source: str) -> list[str]:
    problems = []
    for function in functions(source).values():
        verb, noun = (function.name.split("-", 1) + [""])[:2]
        where = f"line {_line(function.node)}: function {function.name}"
        if verb not in APPROVED_VERBS:
            problems.append(f"{where}: {verb!r} is not an approved verb (Get-Verb)")
        if not noun.startswith("Smhv"):
            problems.append(f"{where}: agent functions use the Smhv noun prefix")
    return problems


def catalog_cmdlets_used(source: str, catalog: Catalog) -> set[str]:
    defined = functions(source)
    return {catalog.cmdlets[u.name.lower()][0] for u in commands(source)
            if u.name and u.name.lower() not in defined and u.name in catalog}


def op_functions(source: str, dispatcher: str = "Invoke-SmhvOperation") -> dict[str, str]:
    """op name -> function, read from the dispatcher's switch clauses."""
    function = functions(source)[dispatcher.lower()]
    table = {}
    for node in _walk(function.node):
        if node.type != "switch_clause":
            continue
        condition = next(c for c in node.children if c.type == "switch_clause_condition")
        command = next(n for n in _walk(node) if n.type == "command")
        name = next(c for c in command.children if c.type == "command_name")
        table[_text(condition).strip("'\"")] = _text(name)
    return table


def hash_keys_reachable(source: str, function_name: str) -> set[str]:
    """Hashtable-literal keys in a function and every agent function it calls, transitively."""
    defined = functions(source)
    seen, pending, keys = set(), [function_name.lower()], set()
    while pending:
        name = pending.pop()
        if name in seen or name not in defined:
            continue
        seen.add(name)
        node = defined[name].node
        for sub in _walk(node):
            if sub.type == "key_expression":
                keys.add(_text(sub).strip("'\""))
            elif sub.type == "command_name" and _text(sub).lower() in defined:
                pending.append(_text(sub).lower())
    return keys
