//! The operator registry, versioned for race-free edits.

use super::*;

impl OperatorRegistry for DynamoStore {
    /// One Query of the registry partition.
    async fn list_operators(&self) -> Result<Vec<Operator>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.state)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s("OPERATORS"));
        let items = self.query_all(q).await?;
        items
            .iter()
            .map(|i| {
                from_doc(
                    &format!("operator {}", text(i, "sk").unwrap_or_default()),
                    i,
                )
            })
            .collect()
    }

    async fn get_operator(&self, id: &OperatorId) -> Result<Option<Operator>, StoreError> {
        let item = self.get_state_item(s("OPERATORS"), s(id.as_str())).await?;
        item.map(|i| from_doc(id.as_str(), &i)).transpose()
    }

    async fn put_operator(&self, op: &Operator) -> Result<(), StoreError> {
        // Unconditional, but the version moves on: a conditional writer
        // that read before this is refused.
        self.client
            .update_item()
            .table_name(&self.tables.state)
            .key("pk", s("OPERATORS"))
            .key("sk", s(op.id.as_str()))
            .update_expression("SET entity = :e, doc = :d ADD version :one")
            .expression_attribute_values(":e", s("operator"))
            .expression_attribute_values(":d", doc(op)?)
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    async fn get_operator_versioned(
        &self,
        id: &OperatorId,
    ) -> Result<Option<Versioned<Operator>>, StoreError> {
        let item = self.get_state_item(s("OPERATORS"), s(id.as_str())).await?;
        item.map(|i| {
            Ok(Versioned {
                value: from_doc(id.as_str(), &i)?,
                version: Version(num(&i, "version").unwrap_or(0) as u64),
            })
        })
        .transpose()
    }

    async fn put_operator_if(
        &self,
        op: &Operator,
        expected: Option<Version>,
    ) -> Result<Version, StoreError> {
        let next = expected.map_or(1, |v| v.0 + 1);
        let req = self
            .client
            .put_item()
            .table_name(&self.tables.state)
            .item("pk", s("OPERATORS"))
            .item("sk", s(op.id.as_str()))
            .item("entity", s("operator"))
            .item("version", n(next as i64))
            .item("doc", doc(op)?);
        let req = match expected {
            None => req.condition_expression("attribute_not_exists(pk)"),
            // Entries written before versions carry none: version 0.
            Some(Version(0)) => req
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(version) OR version = :v)",
                )
                .expression_attribute_values(":v", n(0)),
            Some(Version(v)) => req
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v as i64)),
        };
        match req.send().await {
            Ok(_) => Ok(Version(next)),
            Err(e) if is_condition_failed(&e) => Err(StoreError::Conflict(format!(
                "operator {} changed since it was read",
                op.id
            ))),
            Err(e) => Err(sdk(e)),
        }
    }

    async fn retire_operator(&self, id: &OperatorId) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.tables.state)
            .key("pk", s("OPERATORS"))
            .key("sk", s(id.as_str()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk)?;
        Ok(out.attributes.is_some())
    }
}
