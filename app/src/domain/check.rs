//! Field checks every payload shares: lengths, ranges, identifier syntax. Each failure names the field.

use super::Invalid;

pub const MAX_ID: usize = 128;
pub const MAX_TITLE: usize = 500;
pub const MAX_TEXT: usize = 20_000;
pub const MAX_URL: usize = 2_048;
pub const MAX_LABELS: usize = 20;
pub const MAX_LABEL: usize = 64;
/// Largest `metadata` / `context` / `data` object, as JSON text.
pub const MAX_JSON: usize = 16_384;

pub fn field(field: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid::Field { field, reason: reason.into() }
}

/// Identifiers appear in topics and URLs, so they keep to a small, unambiguous alphabet.
pub fn id(name: &'static str, id: &str) -> Result<(), Invalid> {
    if id.is_empty() {
        return Err(field(name, "must not be empty"));
    }
    if id.len() > MAX_ID {
        return Err(field(name, format!("must be at most {MAX_ID} characters")));
    }
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')) {
        return Err(field(name, "may contain only letters, digits, `-`, `_`, `.` and `:`"));
    }
    Ok(())
}

/// A workspace name is also a folder name (its artifacts live in `<artifacts>/<workspace>`), so it is
/// a plain name: a letter or digit first, then letters, digits, `-` and `_`. Never `.`, `..` or a
/// path.
pub fn workspace(name: &str) -> Result<(), Invalid> {
    const MAX_WORKSPACE: usize = 64;
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if !plain || name.len() > MAX_WORKSPACE {
        return Err(field(
            "workspace",
            format!("must be a plain name of at most {MAX_WORKSPACE} letters, digits, `-` and `_`, starting with a letter or digit"),
        ));
    }
    Ok(())
}

pub fn opt_id(name: &'static str, value: Option<&str>) -> Result<(), Invalid> {
    value.map_or(Ok(()), |v| id(name, v))
}

pub fn required(name: &'static str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        return Err(field(name, "must not be empty"));
    }
    text(name, Some(value), max)
}

pub fn text(name: &'static str, value: Option<&str>, max: usize) -> Result<(), Invalid> {
    match value {
        Some(v) if v.chars().count() > max => Err(field(name, format!("must be at most {max} characters"))),
        _ => Ok(()),
    }
}

/// A person's or agent's name: not blank, not longer than an id.
pub fn name(field_name: &'static str, value: Option<&str>) -> Result<(), Invalid> {
    value.map_or(Ok(()), |v| required(field_name, v, MAX_ID))
}

pub fn percent(name: &'static str, value: Option<u8>) -> Result<(), Invalid> {
    match value {
        Some(p) if p > 100 => Err(field(name, format!("must be between 0 and 100, got {p}"))),
        _ => Ok(()),
    }
}

pub fn labels(labels: &[String]) -> Result<(), Invalid> {
    if labels.len() > MAX_LABELS {
        return Err(field("labels", format!("at most {MAX_LABELS} labels")));
    }
    labels.iter().try_for_each(|l| required("labels", l, MAX_LABEL))
}

/// A short lowercase word such as a category or a phase: `execution`, `file_created`, `vm_assigned`.
pub fn word(name: &'static str, value: &str) -> Result<(), Invalid> {
    if value.is_empty() || value.len() > 64 {
        return Err(field(name, "must be 1 to 64 characters"));
    }
    if !value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.')) {
        return Err(field(name, "may contain only lowercase letters, digits, `_`, `-` and `.`"));
    }
    Ok(())
}

pub fn opt_word(name: &'static str, value: Option<&str>) -> Result<(), Invalid> {
    value.map_or(Ok(()), |v| word(name, v))
}

/// An http(s) URL: anything else would become a dangerous link.
pub fn http_url(name: &'static str, value: Option<&str>) -> Result<(), Invalid> {
    let Some(v) = value else { return Ok(()) };
    text(name, Some(v), MAX_URL)?;
    let lower = v.trim().to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) || lower.len() < 10 {
        return Err(field(name, "must be an http:// or https:// URL"));
    }
    Ok(())
}

/// Free-form JSON (metadata, error context) must be an object and stay small.
pub fn json_object(name: &'static str, value: Option<&serde_json::Value>) -> Result<(), Invalid> {
    let Some(v) = value else { return Ok(()) };
    if !v.is_object() {
        return Err(field(name, "must be a JSON object"));
    }
    if v.to_string().len() > MAX_JSON {
        return Err(field(name, format!("must be at most {MAX_JSON} bytes of JSON")));
    }
    Ok(())
}

pub fn non_negative(name: &'static str, value: Option<f64>) -> Result<(), Invalid> {
    match value {
        Some(v) if !v.is_finite() || v < 0.0 => Err(field(name, "must be a number of at least 0")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_workspace_is_a_plain_name() {
        for good in ["default", "team-a", "ops_2", "A1"] {
            assert!(super::workspace(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", ".hidden", "-x", "a.b", "a:b", &"x".repeat(65)] {
            assert!(super::workspace(bad).is_err(), "{bad}");
        }
    }
}
