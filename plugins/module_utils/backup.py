# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The old path of the backup engine, now engines/backup/: kept only until restore.py, which imported CHECKPOINT_PREFIX
from here, has moved to engines/restore/ (which imports it from engines.backup). Import from engines.backup."""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup import CHECKPOINT_PREFIX, BackupEngine  # noqa: F401 pylint: disable=unused-import
