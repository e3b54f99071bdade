//! A send request's body as the mock reads it: strings borrowed from the request's own bytes,
//! only the members the mock judges, and no JSON tree. Lenient as WeChat's checks are: a member
//! of the wrong type reads as empty (and is then refused for being empty), never as a parse error;
//! only a body that is not JSON at all, or whose `data` is not an object, is `47001`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A JSON member read as text: its string, or empty when it is missing or not a string.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Text<'a>(Option<Cow<'a, str>>);

impl Text<'_> {
    /// The string, or "" when the member was missing or not a string.
    pub(super) fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or_default()
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v))))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Text(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Text(None))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

/// `data`: each key with its `value`, in the order sent; `None` when `data` is not an object.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Data<'a>(Option<Vec<(Text<'a>, Text<'a>)>>);

impl<'a> Data<'a> {
    /// The keys and values, or `None` when `data` was missing or not an object.
    pub(super) fn fields(&self) -> Option<&[(Text<'a>, Text<'a>)]> {
        self.0.as_deref()
    }
}

/// Looks a key up among `data`'s fields: its `value`, or "" when absent.
pub(super) fn value_of<'s>(fields: &'s [(Text<'_>, Text<'_>)], key: &str) -> &'s str {
    fields.iter().find(|(k, _)| k.as_str() == key).map_or("", |(_, v)| v.as_str())
}

/// One member of `data`: `{"value": "…"}` (other members, such as `color`, are ignored).
#[derive(Default)]
struct FieldValue<'a>(Text<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for FieldValue<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FieldValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with a value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut value = Text(None);
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    if key.as_str() == "value" {
                        value = map.next_value()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(FieldValue(value))
            }
        }
        // Anything but an object has no value: read it as empty.
        d.deserialize_any(ObjectOr(V))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Data<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Data<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    let FieldValue(value) = map.next_value()?;
                    fields.push((key, value));
                }
                Ok(Data(Some(fields)))
            }
        }
        d.deserialize_any(ObjectOr(V))
    }
}

/// A visitor that hands objects to the inner one and reads every other value as `Default`.
struct ObjectOr<V>(V);

impl<'de, V> Visitor<'de> for ObjectOr<V>
where
    V: Visitor<'de>,
    V::Value: Default,
{
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(V::Value::default())
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(V::Value::default())
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(V::Value::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(V::Value::default())
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(V::Value::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(V::Value::default())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(V::Value::default())
    }
}

/// The message members of a send: at the top level, or in `mp_template_msg` for uniform_send.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct Message<'a> {
    /// The template.
    #[serde(borrow, default)]
    pub template_id: Text<'a>,
    /// The keys and values.
    #[serde(borrow, default)]
    pub data: Data<'a>,
    /// The official account (uniform_send's `mp_template_msg` only).
    #[serde(borrow, default)]
    pub appid: Text<'a>,
}

/// A send request's body.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct SendBody<'a> {
    /// The recipient.
    #[serde(borrow, default)]
    pub touser: Text<'a>,
    /// The sender's id for WeChat's de-duplication.
    #[serde(borrow, default)]
    pub client_msg_id: Text<'a>,
    /// template/send and subscribe/send's own members.
    #[serde(borrow, default)]
    pub template_id: Text<'a>,
    /// template/send and subscribe/send's own `data`.
    #[serde(borrow, default)]
    pub data: Data<'a>,
    /// uniform_send's message.
    #[serde(borrow, default)]
    pub mp_template_msg: Message<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_members_borrowed_and_leniently() {
        let body = br##"{"touser":"oA","template_id":"T","url":"u","data":{"k1":{"value":"v1","color":"#f00"},"k2":{"value":3},"k3":"x","k\u0034":{"value":"a\"b"}},"client_msg_id":"c"}"##;
        let b: SendBody = serde_json::from_slice(body).unwrap();
        assert_eq!(b.touser.as_str(), "oA");
        assert!(matches!(b.touser.0, Some(Cow::Borrowed(_))));
        assert_eq!(b.client_msg_id.as_str(), "c");
        let f = b.data.fields().unwrap();
        assert_eq!(value_of(f, "k1"), "v1");
        assert_eq!(value_of(f, "k2"), "", "a number is no text");
        assert_eq!(value_of(f, "k3"), "", "a field that is not an object has no value");
        assert_eq!(value_of(f, "k4"), "a\"b", "escaped key and value");
        assert_eq!(value_of(f, "k9"), "");
    }

    #[test]
    fn data_that_is_not_an_object_has_no_fields() {
        for body in [&br#"{"touser":"o","data":[1,2]}"#[..], br#"{"touser":"o","data":"x"}"#, br#"{"touser":1}"#] {
            let b: SendBody = serde_json::from_slice(body).unwrap();
            assert!(b.data.fields().is_none());
        }
        let b: SendBody =
            serde_json::from_slice(br#"{"touser":["a"],"mp_template_msg":{"appid":"wx","data":{}}}"#).unwrap();
        assert_eq!(b.touser.as_str(), "");
        assert_eq!(b.mp_template_msg.appid.as_str(), "wx");
        assert_eq!(b.mp_template_msg.data.fields().map(<[_]>::len), Some(0));
        assert!(serde_json::from_slice::<SendBody>(b"not json").is_err());
    }
}
