//! A shop's orders as CSV (RFC 4180) for its manager: one row per order, every cell quoted
//! when needed and defused against spreadsheet formula injection. Pure; no I/O.

use crate::domain::orders::Order;
use crate::domain::rfc3339;

const HEADER: [&str; 25] = [
    "number",
    "created",
    "status",
    "payment_method",
    "currency",
    "subtotal",
    "shipping",
    "total",
    "items",
    "buyer_name",
    "email",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "postal_code",
    "city",
    "country",
    "phone",
    "shipping_option",
    "carrier",
    "tracking",
    "paid_at",
    "shipped_at",
    "delivered_at",
    "note",
];

/// One cell: a leading `=`, `+`, `-`, `@`, tab or carriage return gets a `'` in front (so a
/// spreadsheet shows text instead of running a formula), then the cell is quoted when it
/// holds a comma, quote, CR or LF (quotes doubled).
pub fn cell(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if defused.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

fn row(out: &mut String, cells: &[String]) {
    let line: Vec<String> = cells.iter().map(|c| cell(c)).collect();
    out.push_str(&line.join(","));
    out.push_str("\r\n");
}

fn time(ms: Option<i64>) -> String {
    ms.map(rfc3339).unwrap_or_default()
}

/// "2× Tea (M); 1× Cup"
pub fn items(o: &Order) -> String {
    o.lines
        .iter()
        .map(|l| {
            if l.variant_title.is_empty() {
                format!("{}× {}", l.quantity, l.title)
            } else {
                format!("{}× {} ({})", l.quantity, l.title, l.variant_title)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The whole export, header first.
pub fn export(orders: &[Order]) -> String {
    let mut out = String::new();
    row(
        &mut out,
        &HEADER.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    );
    for o in orders {
        let a = &o.address;
        let line = |i: usize| a.address_lines.get(i).cloned().unwrap_or_default();
        row(
            &mut out,
            &[
                o.number.clone(),
                rfc3339(o.created_at),
                o.status.as_str().to_string(),
                o.payment_method.as_str().to_string(),
                o.total.currency.code.to_string(),
                o.subtotal.amount_string(),
                o.shipping.amount_string(),
                o.total.amount_string(),
                items(o),
                a.name.clone(),
                o.email.clone(),
                line(0),
                line(1),
                line(2),
                a.postal_code.clone(),
                a.city.clone(),
                a.country.clone(),
                a.phone.clone(),
                o.shipping_option.clone(),
                o.carrier.clone().unwrap_or_default(),
                o.tracking.clone().unwrap_or_default(),
                time(o.paid_at),
                time(o.shipped_at),
                time(o.delivered_at),
                o.buyer_note.clone(),
            ],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_defused() {
        assert_eq!(cell("Tea"), "Tea");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-2"), "'-2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\tx"), "'\tx");
        assert_eq!(cell("\rx"), "\"'\rx\"");
        assert_eq!(cell(""), "");
    }
}
