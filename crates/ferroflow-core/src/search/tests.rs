use super::*;

fn text(s: &str) -> String {
    s.to_owned()
}

#[test]
fn parses_every_run_entity_and_comparator() {
    let clauses = parse_run_filter(
        "metrics.rmse <= 0.5 and params.model = 'rf' AND tags.mlflow.runName LIKE 'swift%' \
         AND attributes.status != \"FAILED\" and run_id IN ('a', 'b') and created > 100 \
         and dataset.context ILIKE 'TRAIN' and params.lr IS NOT NULL and tags.t is null",
    )
    .unwrap();
    assert_eq!(
        clauses,
        vec![
            RunClause::Metric { key: text("rmse"), op: NumberOp::Le, value: 0.5 },
            RunClause::Param { key: text("model"), condition: KeyCondition::Matches(StringMatch::Eq(text("rf"))) },
            RunClause::Tag {
                key: text("mlflow.runName"),
                condition: KeyCondition::Matches(StringMatch::Like(text("swift%")))
            },
            RunClause::StringAttribute {
                attribute: RunStringAttribute::Status,
                condition: StringMatch::Ne(text("FAILED"))
            },
            RunClause::StringAttribute {
                attribute: RunStringAttribute::RunId,
                condition: StringMatch::In(vec![text("a"), text("b")])
            },
            RunClause::NumberAttribute { attribute: RunNumberAttribute::StartTime, op: NumberOp::Gt, value: 100.0 },
            RunClause::Dataset { field: DatasetField::Context, condition: StringMatch::ILike(text("TRAIN")) },
            RunClause::Param { key: text("lr"), condition: KeyCondition::IsNotNull },
            RunClause::Tag { key: text("t"), condition: KeyCondition::IsNull },
        ]
    );
}

#[test]
fn quoted_identifiers_and_values() {
    let clauses =
        parse_run_filter("metrics.`f1-score` > -1e-3 and `params`.\"my param\" = 'it''s' and `Run name` = 'x y'")
            .unwrap();
    assert_eq!(clauses[0], RunClause::Metric { key: text("f1-score"), op: NumberOp::Gt, value: -0.001 });
    assert_eq!(
        clauses[1],
        RunClause::Param { key: text("my param"), condition: KeyCondition::Matches(StringMatch::Eq(text("it's"))) }
    );
    assert_eq!(
        clauses[2],
        RunClause::StringAttribute { attribute: RunStringAttribute::RunName, condition: StringMatch::Eq(text("x y")) }
    );
}

#[test]
fn empty_filter_matches_everything() {
    assert!(parse_run_filter("").unwrap().is_empty());
    assert!(parse_run_filter("   ").unwrap().is_empty());
}

#[test]
fn rejects_bad_filters_with_a_pointed_message() {
    let cases = [
        ("metrics.a > 1 OR metrics.b < 2", "AND"),
        ("metrics.a > 'x'", "numeric"),
        ("params.p > 1", "comparator"),
        ("params.p = unquoted", "quoted"),
        ("status IN ('A')", "comparator"),
        ("foo.bar = 'x'", "entity"),
        ("nosuchattr = 'x'", "attribute key"),
        ("metrics.a >", "Missing value"),
        ("params.p = 'open", "Unterminated"),
        ("run_id IN ()", "at least one"),
        ("metrics.a ~ 1", "comparator"),
        ("(metrics.a > 1)", "identifier"),
    ];
    for (filter, expected) in cases {
        let err = parse_run_filter(filter).unwrap_err().to_string();
        assert!(err.contains(expected), "{filter:?} gave {err:?}, expected it to mention {expected:?}");
    }
}

#[test]
fn run_order_by_parses_keys_and_directions() {
    let orders = parse_run_order_by(&[
        text("metrics.`val loss` DESC"),
        text("params.lr"),
        text("attributes.start_time asc"),
        text("tags.team"),
    ])
    .unwrap();
    assert_eq!(
        orders,
        vec![
            RunOrder { key: RunOrderKey::Metric(text("val loss")), ascending: false },
            RunOrder { key: RunOrderKey::Param(text("lr")), ascending: true },
            RunOrder { key: RunOrderKey::NumberAttribute(RunNumberAttribute::StartTime), ascending: true },
            RunOrder { key: RunOrderKey::Tag(text("team")), ascending: true },
        ]
    );
    assert!(parse_run_order_by(&[text("metrics.a"), text("metrics.a DESC")]).is_err());
    assert!(parse_run_order_by(&[text("metrics.a sideways")]).is_err());
    assert!(parse_run_order_by(&[text("bogus")]).is_err());
}

#[test]
fn experiment_filters() {
    let clauses = parse_experiment_filter(
        "name ILIKE '%Demo%' and tags.team = 'ml' and creation_time >= 5 and experiment_id IN ('1', '2')",
    )
    .unwrap();
    assert_eq!(
        clauses,
        vec![
            ExperimentClause::Name(StringMatch::ILike(text("%Demo%"))),
            ExperimentClause::Tag { key: text("team"), condition: KeyCondition::Matches(StringMatch::Eq(text("ml"))) },
            ExperimentClause::Time { attribute: ExperimentTimeAttribute::CreationTime, op: NumberOp::Ge, value: 5 },
            ExperimentClause::Id { negated: false, ids: vec![1, 2] },
        ]
    );
    assert!(parse_experiment_filter("creation_time > 1.5").is_err());
    assert!(parse_experiment_filter("experiment_id IN ('x')").is_err());
    assert!(parse_experiment_filter("metrics.a > 1").is_err());
    assert!(parse_experiment_filter("artifact_location = 'x'").is_err());
}

#[test]
fn experiment_order_by() {
    let orders = parse_experiment_order_by(&[text("name DESC"), text("experiment_id")]).unwrap();
    assert_eq!(
        orders,
        vec![
            ExperimentOrder { key: ExperimentOrderKey::Name, ascending: false },
            ExperimentOrder { key: ExperimentOrderKey::ExperimentId, ascending: true },
        ]
    );
    assert!(parse_experiment_order_by(&[text("tags.x")]).is_err());
}

#[test]
fn filters_and_orderings_are_bounded() {
    let clauses = vec!["params.a = 'x'"; MAX_FILTER_CLAUSES];
    assert_eq!(parse_run_filter(&clauses.join(" AND ")).unwrap().len(), MAX_FILTER_CLAUSES);
    let too_many = vec!["params.a = 'x'"; MAX_FILTER_CLAUSES + 1].join(" AND ");
    assert!(parse_run_filter(&too_many).unwrap_err().to_string().contains("at most"));
    let keys: Vec<String> = (0..=MAX_ORDER_BY_KEYS).map(|i| format!("params.p{i}")).collect();
    assert!(parse_run_order_by(&keys).unwrap_err().to_string().contains("at most"));
}
