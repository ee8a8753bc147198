"""Make sure ansible-test's pip bootstrap script is available, even where its download host is not.

Run with the Python of the venv that holds the ansible-test to use:

    .venv/bin/python scripts/ansible_test_getpip.py [--python 3.11]

`ansible-test ... --venv` bootstraps pip into each fresh virtualenv with a script that it downloads
from ci-files.testing.ansible.com and caches as ~/.ansible/test/cache/get_pip_<ver>.py. Where that
host is unreachable (these build machines only reach PyPI, Debian and npm), this writes a stand-in
at the cache path instead: it bootstraps pip from the interpreter's bundled wheel (ensurepip) and
then pip-installs what ansible-test asked for. Nothing happens when the cache file already exists or
the real script downloads. See docs/development.md.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import types
import urllib.request

URL = 'https://ci-files.testing.ansible.com/ansible-test/get-pip-%s.py'

STAND_IN = '''\
"""Stand-in for ansible-test's get-pip-%(version)s.py, written by netapp_hyperv.smhv's
scripts/ansible_test_getpip.py because the download host was unreachable.

ansible-test runs this in-process (runpy) with pip-install arguments in a virtualenv without pip.
Delete this file to make ansible-test try the real download again."""
import os
import subprocess
import sys

CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'


def main():
    args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'],
                          stdout=subprocess.DEVNULL)
    cmd = [sys.executable, '-m', 'pip', 'install']
    # ansible-test hides pip's own configuration (PIP_CONFIG_FILE=/dev/null, no PIP_*/SSL_* vars);
    # a proxy with a private CA then needs the system bundle named explicitly.
    if os.path.exists(CA_BUNDLE):
        cmd += ['--cert', CA_BUNDLE]
    subprocess.check_call(cmd + args)


main()
'''


def pip_version(python_version: str) -> str:
    """The pip version that this ansible-test pins for virtualenvs of the given Python."""
    try:
        from ansible_test._internal.python_requirements import get_venv_packages
        return get_venv_packages(types.SimpleNamespace(version=python_version))['pip']
    except Exception:  # layout changed in a later ansible-test: read the source instead
        import ansible_test
        path = os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')
        with open(path, encoding='utf-8') as f:
            match = re.search(r"pip=['\"]([0-9.]+)['\"]", f.read())
        if not match:
            raise SystemExit('cannot tell which pip version ansible-test pins (%s)' % path)
        return match.group(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--python', default='%d.%d' % sys.version_info[:2],
                        help='Python version ansible-test will create venvs for (default: this one)')
    parser.add_argument('--timeout', type=float, default=15.0, help='download timeout in seconds')
    args = parser.parse_args()

    version = pip_version(args.python)
    cache = os.path.expanduser('~/.ansible/test/cache/get_pip_%s.py' % version.replace('.', '_'))
    if os.path.exists(cache):
        return 0

    os.makedirs(os.path.dirname(cache), exist_ok=True)
    url = URL % version
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            data = response.read()
        tmp = cache + '.download'
        with open(tmp, 'wb') as f:
            f.write(data)
        os.replace(tmp, cache)
        print('ansible-test: downloaded the pip %s bootstrap script to %s' % (version, cache))
    except Exception as exc:  # offline, DNS failure, proxy refusal: all mean "use the stand-in"
        with open(cache, 'w', encoding='utf-8') as f:
            f.write(STAND_IN % {'version': version})
        print('ansible-test: cannot download %s (%s);\n'
              '  wrote an offline stand-in to %s (bootstraps pip %s with ensurepip + PyPI).\n'
              '  Delete it to retry the download.' % (url, exc, cache, version))
    return 0


if __name__ == '__main__':
    sys.exit(main())
