//! Any row values rendered into a template body: always valid JSON carrying the value as is.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wxsend::campaign::config::CampaignConfig;
use wxsend::campaign::{EncodingChoice, MessageTemplate, Recipients, Rendered};

fuzz_target!(|value: String| {
    let campaign = "name = \"f\"\n[wechat]\nappid = \"wx1\"\n[message]\nkind = \"template\"\ntemplate_id = \"T\"\n[message.data]\nthing1 = \"{{v}}\"\n[recipients]\ncsv = \"r.csv\"\n";
    let config = CampaignConfig::parse(std::path::Path::new("c.toml"), campaign).unwrap();
    let mut w = Vec::new();
    w.extend_from_slice(b"openid,v\noWxpTyGJMuHbEL31IeL2HPcHyGcF,\"");
    w.extend_from_slice(value.replace('"', "\"\"").as_bytes());
    w.extend_from_slice(b"\"\n");
    let Ok(r) = Recipients::from_bytes(std::path::Path::new("r.csv"), w, EncodingChoice::Utf8, "openid") else {
        return;
    };
    let t = MessageTemplate::compile(&config, &r).unwrap();
    let mut rendered = Rendered::default();
    let mut body = Vec::new();
    let rendered_one = match r.rows().next() {
        Some(row) => {
            t.render(&row, &mut rendered);
            t.write_body(row.openid(), &rendered, &mut body);
            true
        }
        None => false,
    };
    if rendered_one {
        let _: serde_json::Value = serde_json::from_slice(&body).unwrap();
    }
});
