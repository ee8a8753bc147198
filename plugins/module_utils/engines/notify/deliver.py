# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Delivering a report: e-mail with Python's email and smtplib (as community.general.mail does: STARTTLS or implicit TLS,
AUTH, several recipients), the JSON webhook with Ansible's own open_url (proxies, certificates and timeouts as
ansible.builtin.uri handles them), and ONTAP's EMS log through netapp-ontap (ontap/ems.py). Each raises SmhvError with
the channel's own code, so one failed channel never hides another's delivery."""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import open_url

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError


def _tls_context(options):
    context = ssl.create_default_context(cafile=options.get("ca_path") or None)
    if not options.get("validate_certs", True):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def mail_message(options, subject, body, report):
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = options["sender"]
    message["To"] = ", ".join(options["to"])
    if options.get("cc"):
        message["Cc"] = ", ".join(options["cc"])
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=options["sender"].rpartition("@")[2] or None)
    message["X-SMHV-Status"] = report["status"]
    message.set_content(body)
    return message


def send_mail(options, message):
    """Send `message` through options' SMTP server; returns the recipients the server accepted."""
    recipients = list(options["to"]) + list(options.get("cc") or [])
    host, port, security = options["host"], options["port"], options["security"]
    try:
        if security == "tls":
            server = smtplib.SMTP_SSL(host, port, timeout=options["timeout"], context=_tls_context(options))
        else:
            server = smtplib.SMTP(host, port, timeout=options["timeout"])
        with server:
            server.ehlo()
            if security == "starttls":
                server.starttls(context=_tls_context(options))
                server.ehlo()
            if options.get("username"):
                server.login(options["username"], options.get("password") or "")
            refused = server.send_message(message, to_addrs=recipients)
    except smtplib.SMTPAuthenticationError as error:
        raise SmhvError("NOTIFICATION_FAILED", "The SMTP server %s:%s refused the login of %s: %s %s." % (
            host, port, options.get("username"), error.smtp_code, _text(error.smtp_error)), {"channel": "email", "host": host}) from None
    except smtplib.SMTPNotSupportedError as error:
        raise SmhvError("NOTIFICATION_FAILED", "The SMTP server %s:%s does not offer what was asked (%s); check smtp.security "
                        "(starttls, tls or none) and whether it takes a login." % (host, port, error), {"channel": "email", "host": host}) from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as error:
        raise SmhvError("NOTIFICATION_FAILED", "E-mail through %s:%s was not sent: %s: %s." % (host, port, type(error).__name__, error),
                        {"channel": "email", "host": host}) from None
    return [address for address in recipients if address not in refused]


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def post_webhook(options, payload):
    """POST `payload` as JSON to the webhook; returns the HTTP status."""
    headers = {"Content-Type": "application/json"}
    headers.update(options.get("headers") or {})
    try:
        response = open_url(options["url"], data=json.dumps(payload, sort_keys=True), headers=headers, method="POST",
                            validate_certs=options.get("validate_certs", True), ca_path=options.get("ca_path"),
                            timeout=options["timeout"], http_agent="netapp_hyperv.smhv")
        return response.getcode()
    except HTTPError as error:
        raise SmhvError("NOTIFICATION_FAILED", "The webhook %s answered HTTP %s %s." % (options["url"], error.code, error.reason),
                        {"channel": "webhook", "url": options["url"], "status": error.code}) from None
    except (URLError, socket.timeout, ssl.SSLError, OSError) as error:
        raise SmhvError("NOTIFICATION_FAILED", "The webhook %s could not be reached: %s." % (options["url"], getattr(error, "reason", error)),
                        {"channel": "webhook", "url": options["url"]}) from None
