"""Creates livesite's AWS resources on a local emulator (moto_server), with the
names the functions' Cargo metadata uses, and registers one operator.

    .venv/bin/python infra/emulator-resources.py [--endpoint URL] [--portal URL]

Used by `make emulator` for running the functions under `cargo lambda watch`.
Keys and indexes match infra/template.yaml.
"""

import argparse
import json

import boto3

p = argparse.ArgumentParser()
p.add_argument("--endpoint", default="http://127.0.0.1:5000")
p.add_argument("--portal", default="http://127.0.0.1:8080/modirect")
args = p.parse_args()

kw = dict(endpoint_url=args.endpoint, region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
ddb = boto3.client("dynamodb", **kw)


def table(name, keys, attrs, **extra):
    if name in ddb.list_tables()["TableNames"]:
        return
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in attrs],
        **extra,
    )


def gsi(name, pk, sk):
    return {"IndexName": name, "Projection": {"ProjectionType": "ALL"},
            "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": sk, "KeyType": "RANGE"}]}


table("livesite-probes", [("operator", "HASH"), ("at_ms", "RANGE")], [("operator", "S"), ("at_ms", "N")],
      StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
table("livesite-state", [("pk", "HASH"), ("sk", "RANGE")],
      [("pk", "S"), ("sk", "S"), ("gsi1pk", "S"), ("gsi1sk", "S"), ("pending_pk", "S"), ("pending_sk", "S")],
      GlobalSecondaryIndexes=[gsi("by-operator", "gsi1pk", "gsi1sk"), gsi("pending", "pending_pk", "pending_sk")])
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
