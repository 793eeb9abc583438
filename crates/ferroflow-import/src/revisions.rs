//! MLflow's schema revisions (its alembic migration ids), oldest first, as MLflow's own migration
//! chain orders them.

/// The revisions this import reads: from MLflow 2.0's schema to MLflow 3.17's.
pub const SUPPORTED: &[&str] = &[
    "97727af70f4d", // 2.0: experiments get creation and update times
    "3500859a5d39", // 2.3: registered model aliases
    "7f2a7d5fae7d", // 2.4: datasets, inputs, input tags
    "2d6e25af4d3e",
    "acf3f17fdcc7", // model versions get a storage location
    "867495a8f9d4", // traces
    "5b0e9adcef9c",
    "4465047574b1",
    "f5a4f2784254",
    "0584bdc529eb",
    "400f98739977", // 3.0: logged models
    "6953534de441", // 3.0: inputs get a step (model outputs)
    "bda7b8c39065",
    "cbc13b556ace",
    "770bee3ae1dd",
    "a1b2c3d4e5f6",
    "de4033877273",
    "1a0cddfcaa16",
    "534353b11cbc",
    "71994744cf8e",
    "3da73c924c2f",
    "bf29a5ff90ea",
    "1bd49d398cd23",
    "b7c8d9e0f1a2",
    "5d2d30f0abce",
    "c9d4e5f6a7b8",
    "2c33131f4dae",
    "d3e4f5a6b7c8",
    "d0e1f2a3b4c5",
    "c8d9e0f1a2b3",
    "1b5f0d9ad7c1", // workspaces
    "e1f2a3b4c5d6",
    "76601a5f987d",
    "c3d6457b6d8a",
    "a5b4c3d2e1f0",
    "ae8bbe7743c9",
    "7d34483879f0",
    "da6fb0208061",
    "89d3d66ed43f",
    "b7e4c1a90f23",
    "a8b9c0d1e2f3",
    "c1d2e3f4a5b6",
    "c3d9e7f1a2b4",
    "6f8d9c3b2a1e",
    "1971f2d9a75b",
    "17e22815139b",
    "b7e2c1a4d9f3",
    "75868b020152",
    "dc11669786a5", // 3.17
];

/// Revisions of MLflow 1.x, before [`SUPPORTED`] starts.
pub const OLDER: &[&str] = &[
    "451aebb31d03",
    "90e64c465722",
    "181f10493468",
    "df50e92ffc5e",
    "7ac759974ad8",
    "89d4b8295536",
    "2b4d017a5e9b",
    "cfd24bdc0731",
    "0a8213491aaa",
    "728d730b5ebd",
    "27a6a02d2cf1",
    "84291f40a231",
    "a8c4a736bde6",
    "39d1c3be5f05",
    "c48cb773bb87",
    "bd07f7e963c5",
    "0c779009ac13",
    "cc1f77228345",
];

/// Why a revision cannot be read, or `None` when it can.
pub fn refusal(revision: &str) -> Option<String> {
    if SUPPORTED.contains(&revision) {
        return None;
    }
    Some(if OLDER.contains(&revision) {
        format!(
            "The MLflow database is at schema revision {revision}, from before MLflow 2.0. Bring it up to date \
             first with `mlflow db upgrade <uri>` (MLflow 2.0 or later), then import it."
        )
    } else {
        format!(
            "The MLflow database is at schema revision {revision}, which this ferroflow does not know (it reads \
             MLflow 2.0 to 3.17, revisions {} to {}). It may come from a newer MLflow; a newer ferroflow may read it.",
            SUPPORTED[0],
            SUPPORTED[SUPPORTED.len() - 1]
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_of_2_0_to_3_17_are_read_and_others_are_refused_by_name() {
        assert_eq!(refusal("97727af70f4d"), None);
        assert_eq!(refusal("dc11669786a5"), None);
        let old = refusal("cc1f77228345").unwrap_or_default();
        assert!(old.contains("cc1f77228345") && old.contains("mlflow db upgrade"), "{old}");
        let unknown = refusal("ffffffffffff").unwrap_or_default();
        assert!(unknown.contains("ffffffffffff") && unknown.contains("does not know"), "{unknown}");
    }
}
