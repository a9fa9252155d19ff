#!/usr/bin/env python3
"""Writes tests/webhooks/vectors.json: signed webhook deliveries for
tests/webhook_signatures.rs, made by the schemes' own reference libraries.

- Standard Webhooks: the `standardwebhooks` package (`Webhook.sign`), and
  every valid case is checked with its `Webhook.verify` too;
- Stripe: the `stripe` package (`WebhookSignature.generate_signature_header`,
  `_compute_signature`), valid cases checked with `WebhookSignature.verify_header`;
- GitHub and generic `hmac` (Shopify-, Slack-style, SHA-512, SHA-1): GitHub
  documents `X-Hub-Signature-256` as the plain hex HMAC-SHA-256 of the body,
  so these are made with Python's `hmac` module (no GitHub package needed).

Run once, by hand (`pip install standardwebhooks stripe`, then
`python3 tests/webhooks/make_vectors.py`); the tests read the JSON only.
The times are fixed, so the output is the same on every run.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import urllib.parse

import standardwebhooks
import stripe

NOW = 1_700_000_000  # the clock of the test server
STALE = NOW - 10 * 60  # beyond the default tolerance of 5 minutes

SECRETS = {
    "GITHUB_SECRET": "gh-webhook-secret-for-tests",
    "STRIPE_SECRET": "whsec_stripe_secret_for_tests_0123456789",
    "STRIPE_OLD_SECRET": "whsec_stripe_previous_secret_for_tests",
    # Standard Webhooks keys are whsec_ + base64 of random bytes; two allow rotation.
    "SW_OLD_KEY": "whsec_" + base64.b64encode(b"old-standard-webhooks-key-32-byt").decode(),
    "SW_NEW_KEY": "whsec_" + base64.b64encode(b"new-standard-webhooks-key-32-byt").decode(),
    "SHOPIFY_SECRET": "shopify-secret-for-tests",
    "SLACK_SECRET": "slack-signing-secret-for-tests",
    "LEGACY_SECRET": "legacy-sha1-secret-for-tests",
    "WIDE_SECRET": "sha512-secret-for-tests",
}
WRONG = "not-the-secret"
WRONG_SW = "whsec_" + base64.b64encode(b"wrong-standard-webhooks-key-32-b").decode()


def hmac_hex(key, message, digest=hashlib.sha256):
    return hmac.new(key.encode(), message.encode(), digest).hexdigest()


def hmac_b64(key, message, digest=hashlib.sha256):
    return base64.b64encode(hmac.new(key.encode(), message.encode(), digest).digest()).decode()


def event(event_id, kind="created"):
    return json.dumps({"id": event_id, "kind": kind}, separators=(",", ":"))


cases = []


def case(flow, path, name, headers, body, expect):
    cases.append({"flow": flow, "path": path, "name": name, "headers": headers, "body": body, "expect": expect})


# --- GitHub: X-Hub-Signature-256 = sha256=<hex>; redeliveries keep X-GitHub-Delivery.
def github(name, body, key, delivery, expect):
    headers = {
        "content-type": "application/json",
        "x-github-event": "issues",
        "x-github-delivery": delivery,
        "x-hub-signature-256": "sha256=" + hmac_hex(key, body),
    }
    case("github_hook", "/hooks/github", name, headers, body, expect)


body = event("gh-1")
github("valid", body, SECRETS["GITHUB_SECRET"], "delivery-1", 202)
github("replayed delivery id", body, SECRETS["GITHUB_SECRET"], "delivery-1", 200)
github("tampered body", body.replace("created", "deleted"), SECRETS["GITHUB_SECRET"], "delivery-2", 401)
cases[-1]["headers"]["x-hub-signature-256"] = "sha256=" + hmac_hex(SECRETS["GITHUB_SECRET"], body)
github("wrong key", event("gh-3"), WRONG, "delivery-3", 401)
github("missing signature", event("gh-4"), SECRETS["GITHUB_SECRET"], "delivery-4", 401)
del cases[-1]["headers"]["x-hub-signature-256"]


# --- Stripe: Stripe-Signature: t=..,v1=..[,v1=..], tolerance 5 minutes; dedupe by event id.
def stripe_header(body, secret, timestamp, extra_secret=None):
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    if extra_secret is not None:
        # During a secret's rotation Stripe sends one v1 per secret.
        header += ",v1=" + stripe.WebhookSignature._compute_signature(f"{timestamp}.{body}", extra_secret)
    return header


def stripe_case(name, body, header, expect):
    case("stripe_hook", "/hooks/stripe", name, {"content-type": "application/json", "stripe-signature": header}, body, expect)


body = event("evt_1")
header = stripe_header(body, SECRETS["STRIPE_SECRET"], NOW - 30)
stripe.WebhookSignature.verify_header(body, header, SECRETS["STRIPE_SECRET"], tolerance=None)
stripe_case("valid", body, header, 202)
stripe_case("replayed event id", body, header, 200)
body2 = event("evt_2")
header = stripe_header(body2, SECRETS["STRIPE_OLD_SECRET"], NOW, extra_secret=SECRETS["STRIPE_SECRET"])
stripe.WebhookSignature.verify_header(body2, header, SECRETS["STRIPE_SECRET"], tolerance=None)
stripe_case("valid, second v1 of a rotation", body2, header, 202)
stripe_case("tampered body", event("evt_3", "deleted"), stripe_header(event("evt_3"), SECRETS["STRIPE_SECRET"], NOW), 401)
stripe_case("wrong key", event("evt_4"), stripe_header(event("evt_4"), WRONG, NOW), 401)
stripe_case("stale timestamp", event("evt_5"), stripe_header(event("evt_5"), SECRETS["STRIPE_SECRET"], STALE), 401)
stripe_case("future timestamp", event("evt_6"), stripe_header(event("evt_6"), SECRETS["STRIPE_SECRET"], NOW + 600), 401)


# --- Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature (space-separated v1,<b64>).
def standard(name, body, key, message_id, timestamp, expect, extra=None):
    signer = standardwebhooks.Webhook(key)
    when = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    signature = signer.sign(message_id, when, body)
    if extra is not None:
        signature = extra + " " + signature
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }
    case("standard_hook", "/hooks/standard", name, headers, body, expect)


body = event("sw-1")
standard("valid under the new key", body, SECRETS["SW_NEW_KEY"], "msg_1", NOW - 10, 202)
standard("replayed webhook-id", body, SECRETS["SW_NEW_KEY"], "msg_1", NOW - 10, 200)
standard("valid under the old key (rotation)", event("sw-2"), SECRETS["SW_OLD_KEY"], "msg_2", NOW, 202)
other = standardwebhooks.Webhook(WRONG_SW).sign("msg_3", datetime.datetime.fromtimestamp(NOW, tz=datetime.timezone.utc), event("sw-3"))
standard("several signatures, one valid", event("sw-3"), SECRETS["SW_NEW_KEY"], "msg_3", NOW, 202, extra=other)
standard("tampered body", event("sw-4"), SECRETS["SW_NEW_KEY"], "msg_4", NOW, 401)
cases[-1]["body"] = event("sw-4", "deleted")
standard("wrong key", event("sw-5"), WRONG_SW, "msg_5", NOW, 401)
standard("stale timestamp", event("sw-6"), SECRETS["SW_NEW_KEY"], "msg_6", STALE, 401)
standard("id changed after signing", event("sw-7"), SECRETS["SW_NEW_KEY"], "msg_7", NOW, 401)
cases[-1]["headers"]["webhook-id"] = "msg_7b"

# --- hmac: Shopify style (base64 of the body), Slack style (prefix, timestamp, canonical, form body),
# SHA-512 and SHA-1.
body = json.dumps({"id": 820982911946154508, "email": "jon@example.com"}, separators=(",", ":"))
shop = {"content-type": "application/json", "x-shopify-hmac-sha256": hmac_b64(SECRETS["SHOPIFY_SECRET"], body)}
case("shopify_hook", "/hooks/shopify", "valid", shop, body, 202)
case("shopify_hook", "/hooks/shopify", "replayed order id", shop, body, 200)
case("shopify_hook", "/hooks/shopify", "tampered body", shop, body.replace("jon", "eve"), 401)
case("shopify_hook", "/hooks/shopify", "wrong key", {**shop, "x-shopify-hmac-sha256": hmac_b64(WRONG, body)}, body, 401)


def slack(name, form, key, timestamp, expect):
    body = urllib.parse.urlencode(form)
    signature = "v0=" + hmac_hex(key, f"v0:{timestamp}:{body}")
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": str(timestamp),
        "x-slack-signature": signature,
    }
    case("slack_hook", "/hooks/slack", name, headers, body, expect)


command = {"user_name": "ada", "text": "deploy the widgets", "trigger_id": "t-1"}
slack("valid form body", command, SECRETS["SLACK_SECRET"], NOW - 60, 202)
slack("replayed trigger id", command, SECRETS["SLACK_SECRET"], NOW - 60, 200)
slack("tampered body", command, SECRETS["SLACK_SECRET"], NOW, 401)
cases[-1]["body"] = cases[-1]["body"].replace("widgets", "gadgets")
slack("wrong key", {**command, "trigger_id": "t-2"}, WRONG, NOW, 401)
slack("stale timestamp", {**command, "trigger_id": "t-3"}, SECRETS["SLACK_SECRET"], STALE, 401)

body = event("wide-1")
wide = {"x-signature": hmac_hex(SECRETS["WIDE_SECRET"], "/hooks/wide\n" + body, hashlib.sha512)}
case("wide_hook", "/hooks/wide", "valid sha512 over path and body", wide, body, 202)
case("wide_hook", "/hooks/wide", "tampered body", wide, event("wide-1", "deleted"), 401)
case("wide_hook", "/hooks/wide", "wrong key", {"x-signature": hmac_hex(WRONG, "/hooks/wide\n" + body, hashlib.sha512)}, body, 401)

body = event("legacy-1")
legacy = {"x-legacy-signature": "sha1=" + hmac_hex(SECRETS["LEGACY_SECRET"], body, hashlib.sha1)}
case("legacy_hook", "/hooks/legacy", "valid sha1", legacy, body, 202)
case("legacy_hook", "/hooks/legacy", "tampered body", legacy, event("legacy-1", "deleted"), 401)
case("legacy_hook", "/hooks/legacy", "wrong key", {"x-legacy-signature": "sha1=" + hmac_hex(WRONG, body, hashlib.sha1)}, body, 401)

output = {
    "generated_by": "tests/webhooks/make_vectors.py with standardwebhooks "
    + getattr(standardwebhooks, "__version__", "1.x")
    + " and stripe "
    + stripe.VERSION,
    "now": NOW,
    "secrets": SECRETS,
    "cases": cases,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors.json")
with open(path, "w") as file:
    json.dump(output, file, indent=1)
    file.write("\n")
print(f"{len(cases)} cases written to {path}")
