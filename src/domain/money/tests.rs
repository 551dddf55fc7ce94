//! Unit tests of the parent module.
use super::*;

fn eur() -> Currency {
    Currency::from_code("EUR").unwrap()
}
fn jpy() -> Currency {
    Currency::from_code("JPY").unwrap()
}
fn bhd() -> Currency {
    Currency::from_code("BHD").unwrap()
}
fn chf() -> Currency {
    Currency::from_code("CHF").unwrap()
}

#[test]
fn eur_parse_and_format() {
    let cases = [
        ("24", 2400, "24.00"),
        ("24.5", 2450, "24.50"),
        ("24.50", 2450, "24.50"),
        ("24.05", 2405, "24.05"),
        ("0", 0, "0.00"),
        ("0.01", 1, "0.01"),
        ("007.50", 750, "7.50"),
        ("  12.34\t\n", 1234, "12.34"),
    ];
    for (input, minor, formatted) in cases {
        let m = Money::parse(input, eur()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(m.minor, minor, "{input:?}");
        assert_eq!(m.currency, eur());
        assert_eq!(m.amount_string(), formatted, "{input:?}");
        assert_eq!(
            Money::parse(&m.amount_string(), eur()),
            Ok(m),
            "round trip {input:?}"
        );
    }
    assert_eq!(Money::new(2400, eur()).display(), "€24.00");
}

#[test]
fn jpy_parse_and_format() {
    let m = Money::parse("1500", jpy()).unwrap();
    assert_eq!(m.minor, 1500);
    assert_eq!(m.amount_string(), "1500");
    assert_eq!(m.display(), "¥1500");
    assert_eq!(Money::parse("0", jpy()).unwrap().amount_string(), "0");
    assert_eq!(Money::parse(&m.amount_string(), jpy()), Ok(m));
}

#[test]
fn bhd_parse_and_format() {
    let m = Money::parse("1.5", bhd()).unwrap();
    assert_eq!(m.minor, 1500);
    assert_eq!(m.amount_string(), "1.500");
    assert_eq!(m.display(), "1.500 BHD");
    assert_eq!(Money::parse("0.001", bhd()).unwrap().minor, 1);
    assert_eq!(Money::parse("2", bhd()).unwrap().minor, 2000);
    assert_eq!(Money::parse(&m.amount_string(), bhd()), Ok(m));
    assert_eq!(
        Money::parse("1.2345", bhd()),
        Err(MoneyError::TooManyDecimals { allowed: 3 })
    );
}

#[test]
fn four_decimal_currencies() {
    let clf = Currency::from_code("CLF").unwrap();
    assert_eq!(clf.minor_units, 4);
    let m = Money::parse("1.5", clf).unwrap();
    assert_eq!(m.minor, 15_000);
    assert_eq!(m.amount_string(), "1.5000");
    assert_eq!(Currency::from_code("UYW").unwrap().minor_units, 4);
    let big = Money::parse("999999999.9999", clf).unwrap();
    assert_eq!(big.minor, 9_999_999_999_999);
    assert_eq!(big.amount_string(), "999999999.9999");
}

#[test]
fn display_with_and_without_symbol() {
    assert_eq!(Money::new(2400, eur()).display(), "€24.00");
    assert_eq!(Money::new(2400, chf()).display(), "24.00 CHF");
    assert_eq!(
        Money::new(1999, Currency::from_code("USD").unwrap()).display(),
        "$19.99"
    );
    assert_eq!(
        Money::new(500, Currency::from_code("GBP").unwrap()).display(),
        "£5.00"
    );
    assert_eq!(Money::new(-100, eur()).display(), "-€1.00");
    assert_eq!(Money::new(-100, chf()).display(), "-1.00 CHF");
    assert_eq!(Money::new(2400, eur()).to_string(), "€24.00");
    assert_eq!(Currency::from_code("PLN").unwrap().symbol, None);
    assert_eq!(Currency::from_code("CNY").unwrap().symbol, Some("¥"));
}

#[test]
fn amount_string_negative_and_extremes() {
    assert_eq!(Money::new(-100, eur()).amount_string(), "-1.00");
    assert_eq!(Money::new(-5, eur()).amount_string(), "-0.05");
    assert_eq!(Money::new(-7, jpy()).amount_string(), "-7");
    assert_eq!(Money::new(-1, bhd()).amount_string(), "-0.001");
    assert_eq!(
        Money::new(i64::MIN, eur()).amount_string(),
        "-92233720368547758.08"
    );
    assert_eq!(
        Money::new(i64::MAX, eur()).amount_string(),
        "92233720368547758.07"
    );
    assert_eq!(
        Money::new(i64::MIN, jpy()).amount_string(),
        "-9223372036854775808"
    );
}

#[test]
fn empty() {
    assert_eq!(Money::parse("", eur()), Err(MoneyError::Empty));
    assert_eq!(Money::parse("  ", eur()), Err(MoneyError::Empty));
    assert_eq!(Money::parse("\t\r\n ", eur()), Err(MoneyError::Empty));
}

#[test]
fn negative() {
    assert_eq!(Money::parse("-1", eur()), Err(MoneyError::Negative));
    assert_eq!(Money::parse("-1.50", eur()), Err(MoneyError::Negative));
    assert_eq!(Money::parse(" -0 ", eur()), Err(MoneyError::Negative));
    assert_eq!(Money::parse("-", eur()), Err(MoneyError::Invalid));
    assert_eq!(Money::parse("--1", eur()), Err(MoneyError::Invalid));
    assert_eq!(Money::parse("- 1", eur()), Err(MoneyError::Invalid));
    assert_eq!(Money::parse("-abc", eur()), Err(MoneyError::Invalid));
}

#[test]
fn invalid() {
    for input in [
        "abc", "1e9", "1E2", "+1", "24.", ".5", ".", "1..2", "1.2.3", "1,000.00", "1,50", "1 000",
        "1_000", "12 .50", "１２", "١٢", "12€", "€12", "0x10", "NaN", "inf", "12.5a", "\u{a0}12",
    ] {
        assert_eq!(
            Money::parse(input, eur()),
            Err(MoneyError::Invalid),
            "{input:?}"
        );
    }
}

#[test]
fn too_many_decimals() {
    assert_eq!(
        Money::parse("12.345", eur()),
        Err(MoneyError::TooManyDecimals { allowed: 2 })
    );
    assert_eq!(
        Money::parse("12.340", eur()),
        Err(MoneyError::TooManyDecimals { allowed: 2 })
    );
    assert_eq!(
        Money::parse("12.5", jpy()),
        Err(MoneyError::TooManyDecimals { allowed: 0 })
    );
    assert_eq!(
        Money::parse("12.0", jpy()),
        Err(MoneyError::TooManyDecimals { allowed: 0 })
    );
}

#[test]
fn too_large() {
    let max = MAX_MAJOR_UNITS.to_string();
    assert_eq!(Money::parse(&max, eur()), Err(MoneyError::TooLarge));
    assert_eq!(
        Money::parse(&format!("{max}.00"), eur()),
        Err(MoneyError::TooLarge)
    );
    assert_eq!(Money::parse(&max, jpy()), Err(MoneyError::TooLarge));
    let below = (MAX_MAJOR_UNITS - 1).to_string();
    assert_eq!(
        Money::parse(&format!("{below}.99"), eur()).unwrap().minor,
        MAX_MAJOR_UNITS * 100 - 1
    );
    assert_eq!(
        Money::parse(&below, jpy()).unwrap().minor,
        MAX_MAJOR_UNITS - 1
    );
    assert_eq!(
        Money::parse(&format!("{below}.999"), bhd()).unwrap().minor,
        MAX_MAJOR_UNITS * 1000 - 1
    );
    // Leading zeros do not count towards the size.
    assert_eq!(
        Money::parse(&format!("{}1", "0".repeat(100)), eur())
            .unwrap()
            .minor,
        100
    );
}

#[test]
fn huge_inputs_do_not_panic() {
    let nines = "9".repeat(10_000);
    assert_eq!(Money::parse(&nines, eur()), Err(MoneyError::TooLarge));
    assert_eq!(
        Money::parse(&format!("{nines}.99"), eur()),
        Err(MoneyError::TooLarge)
    );
    assert_eq!(
        Money::parse(&"9".repeat(20), jpy()),
        Err(MoneyError::TooLarge)
    );
    assert_eq!(
        Money::parse(&u64::MAX.to_string(), eur()),
        Err(MoneyError::TooLarge)
    );
    assert_eq!(
        Money::parse(&format!("-{nines}"), eur()),
        Err(MoneyError::Negative)
    );
    assert_eq!(
        Money::parse(&format!("1.{}", "0".repeat(10_000)), eur()),
        Err(MoneyError::TooManyDecimals { allowed: 2 })
    );
    assert_eq!(
        Money::parse(&"x".repeat(10_000), eur()),
        Err(MoneyError::Invalid)
    );
}

#[test]
fn error_messages() {
    assert_eq!(
        MoneyError::Invalid.to_string(),
        "must be a decimal number like 24.00"
    );
    assert_eq!(MoneyError::Negative.to_string(), "must not be negative");
    assert_eq!(MoneyError::TooLarge.to_string(), "is too large");
    assert_eq!(MoneyError::Empty.to_string(), "is required");
    assert_eq!(
        MoneyError::TooManyDecimals { allowed: 2 }.to_string(),
        "this currency allows at most 2 decimal places"
    );
    assert_eq!(
        MoneyError::TooManyDecimals { allowed: 0 }.to_string(),
        "this currency has no decimal places"
    );
    assert_eq!(
        MoneyError::TooManyDecimals { allowed: 2 }.message_for(eur()),
        "EUR allows at most 2 decimal places"
    );
    assert_eq!(
        MoneyError::TooManyDecimals { allowed: 0 }.message_for(jpy()),
        "JPY has no decimal places"
    );
    assert_eq!(
        MoneyError::Negative.message_for(eur()),
        "must not be negative"
    );
}

#[test]
fn checked_add_and_sub() {
    let a = Money::new(150, eur());
    let b = Money::new(250, eur());
    assert_eq!(a.checked_add(b), Some(Money::new(400, eur())));
    assert_eq!(a.checked_sub(b), Some(Money::new(-100, eur())));
    assert_eq!(a.checked_add(Money::new(150, chf())), None);
    assert_eq!(a.checked_add(Money::new(150, jpy())), None);
    assert_eq!(a.checked_sub(Money::new(150, chf())), None);
    assert_eq!(
        Money::new(i64::MAX, eur()).checked_add(Money::new(1, eur())),
        None
    );
    assert_eq!(
        Money::new(i64::MIN, eur()).checked_sub(Money::new(1, eur())),
        None
    );
}

#[test]
fn checked_mul() {
    let a = Money::new(1999, eur());
    assert_eq!(a.checked_mul(3), Some(Money::new(5997, eur())));
    assert_eq!(a.checked_mul(0), Some(Money::zero(eur())));
    assert_eq!(a.checked_mul(-1), Some(Money::new(-1999, eur())));
    assert_eq!(a.checked_mul(i64::MAX), None);
    assert_eq!(Money::new(i64::MAX / 2 + 1, eur()).checked_mul(2), None);
    assert_eq!(Money::new(i64::MIN, eur()).checked_mul(-1), None);
}

#[test]
fn currency_lookup() {
    assert_eq!(Currency::from_code("XYZ"), None);
    assert_eq!(Currency::from_code(""), None);
    assert_eq!(Currency::from_code("eur"), None);
    assert_eq!(Currency::from_code(" EUR"), None);
    assert_eq!(Currency::from_code("EURO"), None);
    assert_eq!(Currency::parse_code(" eur\n"), Some(eur()));
    assert_eq!(Currency::parse_code("Jpy"), Some(jpy()));
    assert_eq!(Currency::parse_code("xyz"), None);
    assert_eq!(Currency::parse_code("e u r"), None);
    assert_eq!(Currency::parse_code("€"), None);
    assert_eq!(Currency::parse_code(""), None);
    let e = eur();
    assert_eq!((e.code, e.minor_units, e.symbol), ("EUR", 2, Some("€")));
    for (code, units) in [
        ("JPY", 0),
        ("KRW", 0),
        ("VND", 0),
        ("CLP", 0),
        ("ISK", 0),
        ("BHD", 3),
        ("KWD", 3),
        ("OMR", 3),
        ("JOD", 3),
        ("TND", 3),
        ("LYD", 3),
        ("IQD", 3),
        ("UYW", 4),
        ("CLF", 4),
        ("USD", 2),
        ("CHF", 2),
        ("GBP", 2),
    ] {
        assert_eq!(
            Currency::from_code(code).map(|c| c.minor_units),
            Some(units),
            "{code}"
        );
    }
    for code in [
        "XAU", "XAG", "XPT", "XPD", "XDR", "XTS", "XXX", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA",
    ] {
        assert_eq!(Currency::from_code(code), None, "{code}");
    }
    // Withdrawn codes.
    for code in ["HRK", "DEM", "FRF", "SLL", "ZWL", "VEF", "MRO", "STD"] {
        assert_eq!(Currency::from_code(code), None, "{code}");
    }
}

#[test]
fn named_constants_match_table() {
    for c in [
        Currency::EUR,
        Currency::USD,
        Currency::GBP,
        Currency::JPY,
        Currency::CHF,
    ] {
        assert_eq!(Currency::from_code(c.code), Some(c));
    }
}

#[test]
fn all_currencies_sorted_unique_and_well_formed() {
    let all = all_currencies();
    assert!(all.len() > 150, "{}", all.len());
    for pair in all.windows(2) {
        assert!(
            pair[0].code < pair[1].code,
            "{} !< {}",
            pair[0].code,
            pair[1].code
        );
    }
    for c in all {
        assert!(
            c.code.len() == 3 && c.code.bytes().all(|b| b.is_ascii_uppercase()),
            "{}",
            c.code
        );
        assert!(c.minor_units <= 4, "{}", c.code);
        assert_eq!(Currency::from_code(c.code), Some(*c));
        assert_eq!(Currency::parse_code(&c.code.to_ascii_lowercase()), Some(*c));
        // Largest parseable amount fits comfortably.
        let max = Money::new(MAX_MAJOR_UNITS * c.minor_per_major() - 1, *c);
        assert_eq!(
            Money::parse(&max.amount_string(), *c),
            Ok(max),
            "{}",
            c.code
        );
    }
}

#[test]
fn currency_serde() {
    assert_eq!(serde_json::to_string(&eur()).unwrap(), "\"EUR\"");
    assert_eq!(serde_json::from_str::<Currency>("\"JPY\"").unwrap(), jpy());
    assert!(serde_json::from_str::<Currency>("\"XYZ\"").is_err());
    assert!(serde_json::from_str::<Currency>("\"eur\"").is_err());
    assert_eq!(Currency::EUR.to_string(), "EUR");
}
