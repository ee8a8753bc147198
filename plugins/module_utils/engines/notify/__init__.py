# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Notifications (smhv_notify): report.py (what an operation's result says, and whether its level asks for a message),
deliver.py (e-mail over SMTP, the JSON webhook, ONTAP's EMS log), run.py (the module's action: the catalog's policy level
and newest good backup, then the deliveries, or in check mode what they would be)."""
