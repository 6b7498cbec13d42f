use super::*;

fn error(spec: &str) -> String {
    parse(spec).unwrap_err().to_string()
}

fn fields(spec: &str) -> Fields {
    match parse(spec).unwrap().spec {
        Spec::Fields(f) => f,
        Spec::Every(_) => panic!("{spec} is @every"),
    }
}

fn values(bits: u64) -> Vec<u32> {
    (0..63).filter(|n| bits & (1 << n) != 0).collect()
}

#[test]
fn five_fields_with_lists_ranges_steps_and_names() {
    let f = fields("0,30 9-17/4 1 jan-MAR mon");
    assert_eq!(values(f.minute), [0, 30]);
    assert_eq!(values(f.hour), [9, 13, 17]);
    assert_eq!(values(f.day_of_month), [1]);
    assert_eq!(values(f.month), [1, 2, 3]);
    assert_eq!(values(f.day_of_week), [1]);
}

#[test]
fn star_and_question_mark_are_any_unless_stepped() {
    let f = fields("*/5 * ? */1 */2");
    assert_eq!(f.minute & STAR, 0, "*/5 is a list, not any");
    assert_eq!(values(f.minute).len(), 12);
    assert_ne!(f.hour & STAR, 0);
    assert_ne!(f.day_of_month & STAR, 0, "? is any");
    assert_ne!(f.month & STAR, 0, "*/1 is still any");
    assert_eq!(values(f.day_of_week), [0, 2, 4, 6]);
    // `N/STEP` runs from N to the maximum.
    assert_eq!(values(fields("50/5 * * * *").minute), [50, 55]);
}

#[test]
fn descriptors() {
    let daily = fields("@daily");
    assert_eq!(values(daily.minute), [0]);
    assert_eq!(values(daily.hour), [0]);
    assert_ne!(daily.day_of_month & STAR, 0);
    assert_eq!(fields("@midnight"), daily);
    assert_eq!(fields("@annually"), fields("@yearly"));
    assert_eq!(values(fields("@weekly").day_of_week), [0]);
    assert_eq!(
        parse("@every 1m30s").unwrap().spec,
        Spec::Every(SignedDuration::from_secs(90))
    );
    // Below a second rounds up to one, as robfig's Every.
    assert_eq!(
        parse("@every 10ms").unwrap().spec,
        Spec::Every(SignedDuration::from_secs(1))
    );
}

#[test]
fn a_tz_prefix_names_the_zone() {
    let parsed = parse("CRON_TZ=Europe/Berlin 0 9 * * *").unwrap();
    assert_eq!(parsed.zone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(values(fields("TZ=UTC 0 9 * * *").hour), [9]);
}

/// The messages kube-apiserver returns after `Invalid value: "SPEC": `.
#[test]
fn errors_are_worded_as_robfig_cron() {
    for (spec, message) in [
        ("", "empty spec string"),
        ("bad", "expected exactly 5 fields, found 1: [bad]"),
        (
            "* * * * * *",
            "expected exactly 5 fields, found 6: [* * * * * *]",
        ),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        (
            "5-1 * * * *",
            "beginning of range (5) beyond end of range (1): 5-1",
        ),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("*/2/3 * * * *", "too many slashes: */2/3"),
        (
            "*/0 * * * *",
            "step of range should be a positive number: */0",
        ),
        (
            "x * * * *",
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            "* * * foo *",
            "failed to parse int from foo: strconv.Atoi: parsing \"foo\": invalid syntax",
        ),
        ("* * * * 7", "end of range (7) above maximum (6): 7"),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("@hourly ", "unrecognized descriptor: @hourly "),
        (
            "@every 5x",
            "failed to parse duration @every 5x: time: unknown unit \"x\" in duration \"5x\"",
        ),
        (
            "@every 5",
            "failed to parse duration @every 5: time: missing unit in duration \"5\"",
        ),
        (
            "TZ=Mars/Olympus * * * * *",
            "provided bad location Mars/Olympus: unknown time zone Mars/Olympus",
        ),
    ] {
        assert_eq!(error(spec), message, "{spec:?}");
    }
}
