//! Incidents, created only if absent, listed per operator by the `by-operator` index.

use super::*;

pub(super) fn incident_item(i: &Incident) -> Result<Item, StoreError> {
    let (pk, sk) = incident_key(&i.id);
    let mut item = HashMap::from([
        ("pk".to_string(), pk),
        ("sk".to_string(), sk),
        ("entity".to_string(), s("incident")),
        ("operator".to_string(), s(i.operator.as_str())),
        ("gsi1pk".to_string(), s(format!("OPINC#{}", i.operator))),
        (
            "gsi1sk".to_string(),
            s(format!(
                "{}#{}",
                padded(i.opened_at.timestamp_millis()),
                i.id
            )),
        ),
        ("open".to_string(), AttributeValue::Bool(i.is_open())),
        ("version".to_string(), n(i.version as i64)),
        ("doc".to_string(), doc(i)?),
    ]);
    if i.is_open() {
        // Open incidents sit in the sparse `pending` index, so the sweep finds
        // them with a Query instead of scanning the table.
        item.insert("pending_pk".into(), s(OPEN_INCIDENTS));
        item.insert(
            "pending_sk".into(),
            s(format!(
                "{}#{}",
                padded(i.opened_at.timestamp_millis()),
                i.id
            )),
        );
    }
    Ok(item)
}

impl IncidentStore for DynamoStore {
    async fn create_incident(&self, incident: &Incident) -> Result<bool, StoreError> {
        self.put_state_item_if(incident_item(incident)?, "attribute_not_exists(pk)")
            .await
    }

    async fn put_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let mut next = incident.clone();
        next.version = incident.version + 1;
        // Items written before versions carry none: they are version 0.
        let condition = if incident.version == 0 {
            "attribute_exists(pk) AND (attribute_not_exists(version) OR version = :v)"
        } else {
            "version = :v"
        };
        let r = self
            .client
            .put_item()
            .table_name(&self.tables.state)
            .set_item(Some(incident_item(&next)?))
            .condition_expression(condition)
            .expression_attribute_values(":v", n(incident.version as i64))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(StoreError::Conflict(format!(
                "incident {} changed since it was read (or does not exist)",
                incident.id
            ))),
            Err(e) => Err(sdk(e)),
        }
    }

    async fn get_incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let (pk, sk) = incident_key(id);
        let item = self.get_state_item(pk, sk).await?;
        item.map(|i| from_doc(id, &i)).transpose()
    }

    async fn list_incidents(
        &self,
        operator: Option<&OperatorId>,
        open_only: bool,
    ) -> Result<Vec<Incident>, StoreError> {
        let items = match operator {
            Some(op) => {
                let mut q = self
                    .client
                    .query()
                    .table_name(&self.tables.state)
                    .index_name(INCIDENTS_BY_OPERATOR)
                    .key_condition_expression("gsi1pk = :p")
                    .expression_attribute_values(":p", s(format!("OPINC#{op}")))
                    .scan_index_forward(false);
                if open_only {
                    q = q
                        .filter_expression("#open = :t")
                        .expression_attribute_names("#open", "open")
                        .expression_attribute_values(":t", AttributeValue::Bool(true));
                }
                self.query_all(q).await?
            }
            None if open_only => {
                let q = self
                    .client
                    .query()
                    .table_name(&self.tables.state)
                    .index_name(PENDING_OUTBOX)
                    .key_condition_expression("pending_pk = :p")
                    .expression_attribute_values(":p", s(OPEN_INCIDENTS));
                self.query_all(q).await?
            }
            None => self.scan_entity("incident", None).await?,
        };
        let mut incidents: Vec<Incident> = items
            .iter()
            .map(|i| from_doc(&text(i, "pk").unwrap_or_default(), i))
            .collect::<Result<_, _>>()?;
        incidents.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then_with(|| a.id.cmp(&b.id)));
        Ok(incidents)
    }
}
