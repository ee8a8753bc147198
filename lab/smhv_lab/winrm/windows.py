"""What cmd.exe and powershell.exe write, so executors can answer like a real Windows host.

The CLIXML shapes are the ones PowerShell puts on stderr when run with -EncodedCommand: pywinrm's
`run_ps` and Ansible's `_parse_clixml` turn the Error form back into text, and the progress form is
what a first module import emits (with rc 0, which is why non-empty stderr must not mean failure).
"""
from __future__ import annotations

import base64
import binascii
from xml.sax.saxutils import escape

from .executor import CommandResult

# cmd.exe refuses longer lines before starting anything.
MAX_COMMAND_LINE = 8191

CLIXML_HEADER = b"#< CLIXML\r\n"
_CRLF = "\r\n"
_OBJS = '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">{}</Objs>'


def command_line(command: str, arguments: list[str]) -> str:
    """The line cmd.exe sees: WinRS joins rsp:Command and every rsp:Arguments with single spaces."""
    return " ".join([command, *arguments]) if arguments else command


def command_line_too_long() -> CommandResult:
    return CommandResult(stderr=b"The command line is too long.\r\n", rc=1)


def not_recognized(command: str) -> CommandResult:
    """cmd.exe's answer to an unknown program (the name is the first word of the line)."""
    name = command.split()[0] if command.split() else command
    return CommandResult(
        stderr=f"'{name}' is not recognized as an internal or external command,\r\n"
               "operable program or batch file.\r\n".encode(),
        rc=1,
    )


def encoded_script(line: str) -> str | None:
    """The script behind `powershell ... -EncodedCommand <b64>` (any accepted abbreviation), else None.

    PowerShell resolves `-e` and `-ec` to EncodedCommand even though -ExecutionPolicy also starts
    with e; longer prefixes must be unambiguous (`-enc`, `-encodedcommand`).
    """
    words = line.split()
    for switch, value in zip(words, words[1:]):
        name = switch.lower().lstrip("-/")
        if switch[:1] in "-/" and (name in ("e", "ec") or (len(name) >= 3 and "encodedcommand".startswith(name))):
            try:
                return base64.b64decode(value, validate=True).decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None


def _clixml_text(text: str) -> str:
    # CLIXML escapes control characters as _xHHHH_ (and a literal "_x" so it cannot be misread), then XML.
    text = text.replace("_x", "_x005F_x")
    text = "".join(f"_x{ord(c):04X}_" if ord(c) < 32 else c for c in text)
    return escape(text)


def clixml_error(message: str) -> bytes:
    """stderr of a script that wrote `message` to the error stream, one <S S="Error"> per line."""
    lines = message.splitlines() or [""]
    body = "".join(f'<S S="Error">{_clixml_text(line + _CRLF)}</S>' for line in lines)
    return CLIXML_HEADER + _OBJS.format(body).encode()


def clixml_progress(activity: str = "Preparing modules for first use.") -> bytes:
    """stderr holding only a progress record, as PowerShell emits it on a zero exit code."""
    record = (
        '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T>'
        '<T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record">'
        f"<AV>{_clixml_text(activity)}</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR>"
        "<SD> </SD></PR></MS></Obj>"
    )
    return CLIXML_HEADER + _OBJS.format(record).encode()
