"""Creates livesite's AWS resources on a local emulator (moto_server), with the
names the functions' Cargo metadata uses, and registers one operator.

    .venv/bin/python infra/emulator-resources.py [--endpoint URL] [--portal URL]

Used by `make emulator` for running the functions under `cargo lambda watch`.
The tables' keys, attributes, indexes and streams are read from
infra/template.yaml (with cfn-lint's CloudFormation YAML reader), never copied.
"""

import argparse
import json
import os

import boto3
from cfnlint.decode import decode

p = argparse.ArgumentParser()
p.add_argument("--endpoint", default="http://127.0.0.1:5000")
p.add_argument("--portal", default="http://127.0.0.1:8080/modirect")
args = p.parse_args()

kw = dict(endpoint_url=args.endpoint, region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
ddb = boto3.client("dynamodb", **kw)


TEMPLATE, errors = decode(os.path.join(os.path.dirname(os.path.abspath(__file__)), "template.yaml"))
if errors:
    raise SystemExit(f"infra/template.yaml: {errors}")


def table(name, logical):
    """Creates `name` as the template defines `logical`."""
    if name in ddb.list_tables()["TableNames"]:
        return
    props = TEMPLATE["Resources"][logical]["Properties"]
    extra = {}
    if "GlobalSecondaryIndexes" in props:
        extra["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "StreamSpecification" in props:
        extra["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=props["KeySchema"],
                     AttributeDefinitions=props["AttributeDefinitions"], **extra)


table("livesite-probes", "ProbesTable")
table("livesite-state", "StateTable")
boto3.client("sns", **kw).create_topic(Name="livesite-pages")
boto3.client("sqs", **kw).create_queue(QueueName="livesite-second-round")
boto3.client("ses", **kw).verify_email_identity(EmailAddress="livesite@dynamo.example")

operator = {
    "id": "contoso", "name": "Contoso Mobile", "contacts": ["noc@contoso.example"],
    "timezone": "Europe/Madrid", "holidays": [], "maintenance": [],
    "portal": {"url": args.portal, "expect_status": [200], "expect_body": None, "timeout": "10s",
               "max_redirects": 5, "body_scan_bytes": 65536},
}
from boto3.dynamodb.types import TypeSerializer  # noqa: E402

doc = TypeSerializer().serialize(json.loads(json.dumps(operator)))
ddb.put_item(TableName="livesite-state",
             Item={"pk": {"S": "OPERATORS"}, "sk": {"S": "contoso"}, "entity": {"S": "operator"}, "doc": doc})
print(f"emulator ready at {args.endpoint}: tables livesite-probes, livesite-state; operator contoso -> {args.portal}")
