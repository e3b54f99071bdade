//! `wxsend new`: a campaign file and a recipients CSV made from one of the account's templates,
//! so nobody types a template key by hand: `[message.data]` maps every shown key to a column
//! named after its label, and the CSV's header has those columns.

use std::path::{Path, PathBuf};

use crate::campaign::Kind;
use crate::wechat::catalogue::Template;

/// The two files `new` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCampaign {
    /// The campaign file's path and text.
    pub campaign: (PathBuf, String),
    /// The recipients file's path and text (its header).
    pub recipients: (PathBuf, String),
}

/// The files for `template` (of `kind`) at `out` (the campaign file; the CSV goes beside it),
/// with `[wechat]` and `[network]` taken as they are from `base` (another campaign's TOML).
pub fn new_campaign(
    out: &Path,
    template: &Template,
    kind: Kind,
    base: &toml::Table,
) -> Result<NewCampaign, toml::ser::Error> {
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("campaign");
    let name: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' }).collect();
    let csv_name = format!("{stem}.csv");
    let mut columns: Vec<String> = vec!["openid".into()];
    let mut data = String::new();
    for field in template.fields.iter().filter(|f| f.shown) {
        let mut column =
            if field.label.is_empty() { field.key.clone() } else { field.label.replace(['{', '}', ','], "") };
        if columns.contains(&column) {
            column = format!("{column}_{}", field.key);
        }
        let mut comment = if field.label.is_empty() { String::new() } else { format!("  # {}", field.label) };
        if let Some(values) = template.enums.get(&field.key) {
            comment.push_str(&format!(" (one of: {})", values.join(" / ")));
        }
        data.push_str(&format!("{} = \"{{{{{column}}}}}\"{comment}\n", field.key));
        columns.push(column);
    }
    let mut text = format!(
        "# Made by `wxsend new` from template {} 「{}」.\n# Fill {csv_name}, then: wxsend check {}\nname = \"{name}\"\n\n",
        template.id,
        template.title,
        out.display()
    );
    for table in ["wechat", "network"] {
        if let Some(value) = base.get(table) {
            let mut wrapper = toml::Table::new();
            wrapper.insert(table.to_string(), value.clone());
            text.push_str(&toml::to_string(&wrapper)?);
            text.push('\n');
        }
    }
    text.push_str(&format!("[message]\nkind = \"{}\"\ntemplate_id = \"{}\"\n", kind.as_str(), template.id));
    if kind == Kind::MpSubscribe {
        text.push_str(
            "# page = \"https://…\"   # the web page it opens, or a mini program:\n\
             # miniprogram = { appid = \"wx…\", pagepath = \"pages/…\" }\n",
        );
    }
    if !template.example.is_empty() {
        for line in template.example.lines() {
            text.push_str(&format!("# example: {line}\n"));
        }
    }
    text.push_str(&format!("\n[message.data]\n{data}\n[recipients]\nfile = \"{csv_name}\"\n"));
    let dir = out.parent().unwrap_or(Path::new("."));
    Ok(NewCampaign {
        campaign: (out.to_path_buf(), text),
        recipients: (dir.join(csv_name), format!("{}\n", columns.join(","))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechat::catalogue::parse_content;

    #[test]
    fn every_shown_key_gets_a_column_named_after_its_label() {
        let template = Template {
            id: "S1".into(),
            title: "发货通知".into(),
            content: String::new(),
            example: "状态:已发货".into(),
            fields: parse_content("商品:{{thing1.DATA}}\n状态:{{phrase2.DATA}}\n{{thing3.DATA}}", Kind::Subscribe),
            enums: [("phrase2".to_string(), vec!["已发货".to_string(), "已签收".to_string()])].into(),
            subscribe_type: Some(2),
        };
        let base: toml::Table = toml::from_str("[wechat]\nappid = \"wx1\"\n[send]\nrate = 5\n").unwrap();
        let made = new_campaign(Path::new("dir/ship.toml"), &template, Kind::Subscribe, &base).unwrap();
        let text = &made.campaign.1;
        assert!(text.contains("name = \"ship\""), "{text}");
        assert!(text.contains("[wechat]\nappid = \"wx1\""), "{text}");
        assert!(!text.contains("[send]"), "{text}");
        assert!(text.contains("thing1 = \"{{商品}}\"  # 商品"), "{text}");
        assert!(text.contains("phrase2 = \"{{状态}}\"  # 状态 (one of: 已发货 / 已签收)"), "{text}");
        assert!(text.contains("thing3 = \"{{thing3}}\""), "{text}");
        assert!(text.contains("file = \"ship.csv\""), "{text}");
        assert_eq!(made.recipients, (PathBuf::from("dir/ship.csv"), "openid,商品,状态,thing3\n".into()));
    }
}
