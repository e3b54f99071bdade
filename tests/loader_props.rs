//! Property tests: no input panics the loader, and any value renders to JSON that round-trips.

use std::path::Path;

use proptest::prelude::*;
use wxsend::campaign::config::CampaignConfig;
use wxsend::campaign::{EncodingChoice, MessageTemplate, Recipients, Rendered};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_the_loader(bytes in proptest::collection::vec(any::<u8>(), 0..2048), enc in 0..3u8) {
        let choice = [EncodingChoice::Auto, EncodingChoice::Utf8, EncodingChoice::Gbk][enc as usize];
        if let Ok(r) = Recipients::from_bytes(Path::new("r.csv"), bytes, choice, "openid") {
            for row in r.rows() {
                let _ = row.openid();
                let _ = row.fields().count();
            }
        }
    }

    #[test]
    fn csv_like_text_never_panics(text in "[a-z,;\t\"\r\n ]{0,200}", header in "(openid|x)(,|;|\t)(openid|y)\r?\n") {
        let bytes = format!("{header}{text}").into_bytes();
        let _ = Recipients::from_bytes(Path::new("r.csv"), bytes, EncodingChoice::Auto, "openid");
    }

    #[test]
    fn any_value_renders_to_json_that_round_trips(value in any::<String>(), kind in 0..3usize) {
        let kind = ["template", "subscribe", "uniform"][kind];
        let campaign = format!(
            "name = \"p\"\n[wechat]\nappid = \"wx1\"\n[message]\nkind = \"{kind}\"\ntemplate_id = \"T\"\nmp_appid = \"wx2\"\n[message.data]\nthing1 = \"{{{{v}}}}\"\n[recipients]\ncsv = \"r.csv\"\n"
        );
        let config = CampaignConfig::parse(Path::new("c.toml"), &campaign).unwrap();
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["openid", "v"]).unwrap();
        w.write_record(["oWxpTyGJMuHbEL31IeL2HPcHyGcF", value.as_str()]).unwrap();
        let bytes = w.into_inner().unwrap();
        let r = Recipients::from_bytes(Path::new("r.csv"), bytes, EncodingChoice::Utf8, "openid").unwrap();
        let t = MessageTemplate::compile(&config, &r).unwrap();
        let mut rendered = Rendered::default();
        let mut buf = Vec::new();
        let row = r.rows().next();
        // A value that is only whitespace or line breaks makes a blank row, which is skipped.
        prop_assume!(row.is_some());
        let row = row.unwrap();
        t.render(&row, &mut rendered);
        t.write_body(row.openid(), &rendered, &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        let data = if kind == "uniform" { &v["mp_template_msg"]["data"] } else { &v["data"] };
        prop_assert_eq!(data["thing1"]["value"].as_str().unwrap(), value.as_str());
    }
}
