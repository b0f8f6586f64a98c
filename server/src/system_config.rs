//! `GET`/`PUT /v1/core/system/config`: the editable part of rtconfig.json as
//! RT's `SystemConfigEntity` list.
//!
//! Web server fields (address, port, `enabled`, `cors.enabled`) are saved to
//! rtconfig.json and apply at the next start (the listening socket is not
//! moved under connected clients), so `GET` shows the saved values, not
//! necessarily the running ones; `log_level` applies at once.

use rt_api::core::{SystemConfigEntity, SystemConfigFieldWrite, SystemConfigValue};

use crate::config::{LOG_LEVELS, RtConfig};
use crate::context::ServerContext;
use crate::error::Error;

const WEB: &str = "Web server";

/// The fields, in the order they are listed.
const FIELDS: &[&str] = &[
    "web_server.enabled",
    "web_server.ip_address",
    "web_server.port",
    "web_server.cors.enabled",
    "log_level",
];

/// The entities describing `config`.
pub fn entities(config: &RtConfig) -> Vec<SystemConfigEntity> {
    let entity =
        |field_id: &str, name: &str, kind: &str, value: String, group: &str, values: &[&str]| {
            SystemConfigEntity {
                field_id: field_id.into(),
                display_name: name.into(),
                kind: kind.into(),
                value,
                group: group.into(),
                available_values: values
                    .iter()
                    .map(|v| SystemConfigValue { display_name: (*v).into(), value: (*v).into() })
                    .collect(),
            }
        };
    let ws = &config.web_server;
    vec![
        entity(
            FIELDS[0],
            "REST API enabled (applies at restart)",
            "boolean",
            ws.enabled.to_string(),
            WEB,
            &["true", "false"],
        ),
        entity(
            FIELDS[1],
            "Listen address (applies at restart)",
            "string",
            ws.ip_address.to_string(),
            WEB,
            &[],
        ),
        entity(
            FIELDS[2],
            "Listen port (applies at restart)",
            "integer",
            ws.port.to_string(),
            WEB,
            &[],
        ),
        entity(
            FIELDS[3],
            "CORS for browsers on other origins (applies at restart)",
            "boolean",
            ws.cors.enabled.to_string(),
            WEB,
            &["true", "false"],
        ),
        entity(FIELDS[4], "Log level", "enum", config.log_level.clone(), "Logging", LOG_LEVELS),
    ]
}

/// Applies `updates` to a copy of `config`; the first bad field refuses the
/// whole update.
pub fn apply(config: &RtConfig, updates: &[SystemConfigFieldWrite]) -> Result<RtConfig, Error> {
    let mut next = config.clone();
    for u in updates {
        let bad =
            |message: String| Error::InvalidSystemConfig { field: u.field_id.clone(), message };
        let v = u.value.trim();
        match u.field_id.as_str() {
            "web_server.enabled" => {
                next.web_server.enabled =
                    v.parse().map_err(|_| bad(format!("'{v}' is not true or false")))?;
            }
            "web_server.ip_address" => {
                next.web_server.ip_address =
                    v.parse().map_err(|_| bad(format!("'{v}' is not an IPv4 or IPv6 address")))?;
            }
            "web_server.port" => {
                next.web_server.port =
                    v.parse().map_err(|_| bad(format!("'{v}' is not a port number (0-65535)")))?;
            }
            "web_server.cors.enabled" => {
                next.web_server.cors.enabled =
                    v.parse().map_err(|_| bad(format!("'{v}' is not true or false")))?;
            }
            "log_level" => {
                if !LOG_LEVELS.contains(&v) {
                    return Err(bad(format!("'{v}' is not one of {}", LOG_LEVELS.join(", "))));
                }
                next.log_level = v.to_string();
            }
            other => {
                return Err(Error::InvalidSystemConfig {
                    field: "fieldId".into(),
                    message: format!("unknown field '{other}' (known: {})", FIELDS.join(", ")),
                });
            }
        }
    }
    Ok(next)
}

/// Validates `updates`, saves rtconfig.json, then applies what applies
/// live. A refused or unsaved update changes nothing.
pub fn update(ctx: &ServerContext, updates: &[SystemConfigFieldWrite]) -> Result<(), Error> {
    let mut file = ctx.config();
    let next = apply(&file.config, updates)?;
    let level_changed = next.log_level != file.config.log_level;
    let previous = std::mem::replace(&mut file.config, next);
    if let Err(source) = file.save() {
        file.config = previous;
        return Err(Error::WriteConfig { path: file.path.clone(), source });
    }
    tracing::info!(path = %file.path.display(), "system configuration saved");
    if level_changed
        && let Some(set_level) = &ctx.level
        && let Err(e) = set_level(&file.config.log_level)
    {
        ctx.engine.record_error("server", &format!("could not change the log level: {e}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(field_id: &str, value: &str) -> SystemConfigFieldWrite {
        SystemConfigFieldWrite { field_id: field_id.into(), value: value.into() }
    }

    #[test]
    fn entities_cover_every_field_and_round_trip() {
        let c = RtConfig::default();
        let listed: Vec<String> = entities(&c).into_iter().map(|e| e.field_id).collect();
        assert_eq!(listed, FIELDS);
        let updates: Vec<_> = entities(&c).iter().map(|e| w(&e.field_id, &e.value)).collect();
        assert_eq!(apply(&c, &updates).unwrap(), c);
    }

    #[test]
    fn updates_apply_and_bad_ones_name_the_field() {
        let c = RtConfig::default();
        let n = apply(
            &c,
            &[
                w("web_server.port", "8080"),
                w("web_server.cors.enabled", "true"),
                w("log_level", "debug"),
            ],
        )
        .unwrap();
        assert_eq!(
            (n.web_server.port, n.web_server.cors.enabled, n.log_level.as_str()),
            (8080, true, "debug")
        );
        let cases = [
            (w("web_server.port", "70000"), "web_server.port: '70000' is not a port number"),
            (w("web_server.ip_address", "localhost"), "web_server.ip_address: 'localhost' is not"),
            (w("web_server.enabled", "yes"), "web_server.enabled: 'yes' is not true or false"),
            (
                w("web_server.cors.enabled", "1"),
                "web_server.cors.enabled: '1' is not true or false",
            ),
            (w("log_level", "loud"), "log_level: 'loud' is not one of"),
            (w("data_dir", "/tmp"), "fieldId: unknown field 'data_dir'"),
        ];
        for (u, want) in cases {
            let err = apply(&c, &[w("log_level", "warn"), u]).unwrap_err().to_string();
            assert!(err.starts_with(want), "{err}");
        }
    }
}
