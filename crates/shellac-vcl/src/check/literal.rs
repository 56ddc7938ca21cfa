//! Numeric literals: digit limits (spec §1.1) and units, to typed values.

use crate::ast::NumberLit;
use crate::diagnostic::Diagnostic;
use crate::types::{bytes_unit, duration_unit};

/// A literal's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Real(f64),
    Duration(f64),
    Bytes(u64),
}

/// Evaluates a numeric literal, unit included.
pub(crate) fn number(lit: &NumberLit) -> Result<Num, Diagnostic> {
    let sign = if lit.negative { -1.0 } else { 1.0 };
    let value = if lit.is_real {
        let (int, frac) = lit.text.split_once('.').unwrap_or((&lit.text, ""));
        // (varnishd 7.1: at most 12 digits before the point and 3 after.)
        if int.len() > 12 {
            return Err(Diagnostic::error(lit.span, "Too many digits for real (at most 12 before the point)"));
        }
        if frac.len() > 3 {
            return Err(Diagnostic::error(lit.span, "Too many digits for real (at most 3 after the point)"));
        }
        lit.text.parse::<f64>().unwrap_or(0.0) * sign
    } else {
        if lit.text.len() > 15 {
            return Err(Diagnostic::error(lit.span, "Too many digits for integer (at most 15)"));
        }
        lit.text.parse::<f64>().unwrap_or(0.0) * sign
    };
    let Some(unit) = &lit.unit else {
        return Ok(if lit.is_real { Num::Real(value) } else { Num::Int(value as i64) });
    };
    if let Some(secs) = duration_unit(&unit.name) {
        return Ok(Num::Duration(value * secs));
    }
    if let Some(mult) = bytes_unit(&unit.name) {
        if value < 0.0 {
            return Err(Diagnostic::error(lit.span, "A byte count cannot be negative"));
        }
        return Ok(Num::Bytes((value * mult) as u64));
    }
    Err(Diagnostic::error(
        unit.span,
        format!("Unknown unit '{}': durations take ms, s, m, h, d, w or y; sizes take B, KB, MB, GB or TB", unit.name),
    ))
}
