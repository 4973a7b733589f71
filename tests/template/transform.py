"""Prints infra/template.yaml as CloudFormation deploys it, as JSON.

The SAM transform (samtranslator, the library `sam deploy` uses) turns the
template into plain CloudFormation: every function gets its IAM role with its
inline policies (the template's `Policies`, plus what SAM adds for event
sources and destinations) and the managed policies it attaches. That is what
IAM will evaluate and what CloudFormation will create, so the tests read it
from here instead of from a copy (tests/helpers/template.rs).

Usage: transform.py TEMPLATE [REGION]  ->  the transformed template on stdout
(REGION: where it is deployed, us-east-1 unless given; a probe location's
stack, infra/probe-region.yaml, is deployed away from the home region).
Intrinsic functions (Ref, Fn::GetAtt, Fn::Sub, ...) are left as they are; the
tests resolve them against the resources they created on the emulator.
"""

import json
import os
import sys

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicyLookups:
    """The template names managed policies by ARN only; a name would need IAM."""

    def load(self):
        raise SystemExit("a managed policy is named without its ARN; use the ARN")


def main(path, region="us-east-1"):
    # The transform asks boto for the region; no AWS configuration is read.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    # The code location is packaging, not permissions: stand in an S3 URI as
    # `sam validate` does, since the transform accepts nothing else.
    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for res in template["Resources"].values():
        if res.get("Type") == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = "s3://bucket/key"
    params = {
        "Environment": "staging",
        "MailSender": "livesite@dynamo.example",
        "TeamEmails": "osoc@dynamo.example",
        "HomeRegion": "us-east-1",
        "ProbesTableName": "livesite-staging-probe-results",
        "StateTableName": "livesite-staging-state",
        "AWS::Region": region,
        "AWS::AccountId": "123456789012",
        "AWS::Partition": "aws",
    }
    try:
        cfn = transform(template, params, NoManagedPolicyLookups())
    except InvalidDocumentException as e:
        raise SystemExit("; ".join(str(c) for c in e.causes))
    json.dump(cfn, sys.stdout, indent=1, sort_keys=True)

if __name__ == "__main__":
    main(*sys.argv[1:3])
