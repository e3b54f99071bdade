//! WeChat's error codes, typed: each known code has one class (what a sender does), one hint for
//! the operator in English and Chinese, and one label; a code wxsend does not know is `Other`.

use serde::Serialize;

/// What a sender does about an answer (WECHAT-API.md, "Error classes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Delivered.
    Ok,
    /// The token is invalid or expired: refresh it and retry once.
    Token,
    /// Transient: back off and retry, reusing the same `client_msg_id`.
    Retry,
    /// A quota per minute or per user: wait, then retry.
    SlowDown,
    /// This recipient cannot get the message: fail the row, go on.
    Row,
    /// Nothing will succeed until the operator acts: stop the campaign.
    Stop,
    /// No answer, and the request may have reached WeChat (a timeout after it was written, a
    /// reset or a cut body while the answer was read). Sent again only where WeChat drops a
    /// duplicate (`client_msg_id`); otherwise the row stays unknown.
    Unanswered,
}

impl ErrorClass {
    /// The class's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Ok => "ok",
            ErrorClass::Token => "token",
            ErrorClass::Retry => "retry",
            ErrorClass::SlowDown => "slow down",
            ErrorClass::Row => "row",
            ErrorClass::Stop => "stop",
            ErrorClass::Unanswered => "unanswered",
        }
    }
}

macro_rules! codes {
    ($( $variant:ident = $code:literal, $class:ident, $en:literal, $zh:literal; )*) => {
        /// A WeChat errcode: every code wxsend knows, and [`ErrCode::Other`] for the rest.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrCode {
            $( #[doc = $en] $variant, )*
            /// A code wxsend does not know: it fails the row, with WeChat's own text.
            Other(i64),
        }

        impl ErrCode {
            /// Every known code, in the order of the table.
            pub const KNOWN: &'static [ErrCode] = &[$( ErrCode::$variant ),*];

            /// The typed code of WeChat's number.
            pub fn from_code(code: i64) -> Self {
                match code {
                    $( $code => ErrCode::$variant, )*
                    other => ErrCode::Other(other),
                }
            }

            /// WeChat's number.
            pub fn code(self) -> i64 {
                match self {
                    $( ErrCode::$variant => $code, )*
                    ErrCode::Other(c) => c,
                }
            }

            /// What a sender does about it (WECHAT-API.md, "Error classes"); unknown codes fail the row.
            pub fn class(self) -> ErrorClass {
                match self {
                    $( ErrCode::$variant => ErrorClass::$class, )*
                    ErrCode::Other(_) => ErrorClass::Row,
                }
            }

            /// What happened and what to do, in English.
            pub fn hint_en(self) -> Option<&'static str> {
                match self {
                    $( ErrCode::$variant => Some($en), )*
                    ErrCode::Other(_) => None,
                }
            }

            /// What happened and what to do, in Chinese.
            pub fn hint_zh(self) -> Option<&'static str> {
                match self {
                    $( ErrCode::$variant => Some($zh), )*
                    ErrCode::Other(_) => None,
                }
            }

            /// What happened and what to do, in the process's language (this table is the
            /// errcodes' catalogue: both languages side by side, one row a code).
            pub fn hint(self) -> Option<&'static str> {
                match crate::i18n::lang() {
                    crate::i18n::Lang::ZhCn => self.hint_zh(),
                    crate::i18n::Lang::En => self.hint_en(),
                }
            }
        }
    };
}

codes! {
    Ok = 0, Ok, "delivered", "发送成功";
    SystemBusy = -1, Retry, "WeChat system busy; retried with backoff", "系统繁忙，已自动退避重试";
    InvalidCredential = 40001, Token, "access token invalid or replaced; refreshed and retried", "access_token 无效或已被替换，已刷新重试";
    InvalidAccessToken = 40014, Token, "access token malformed; refreshed and retried", "access_token 不合法，已刷新重试";
    AccessTokenExpired = 42001, Token, "access token expired; refreshed and retried", "access_token 已过期，已刷新重试";
    MinuteQuota = 45011, SlowDown, "per-minute API quota reached; sending paused for a minute", "接口分钟调用量超限，暂停一分钟后继续";
    ConcurrentToUser = 43108, SlowDown, "concurrent sends to one user; retried later", "对同一用户并发下发，稍后重试";
    InvalidOpenid = 40003, Row, "invalid openid: not a user of this app — check the appid and the openid column", "openid 无效：不属于该应用，请检查 appid 与 openid 列";
    RequireSubscribe = 43004, Row, "the user does not follow the official account — drop them from the next run", "用户未关注公众号，下次发送请剔除";
    Blacklisted = 43019, Row, "the user is blacklisted by the account — drop them from the next run", "用户在黑名单中，下次发送请剔除";
    UserRefused = 43101, Row, "the user refused this template or has no subscription left — drop them from the next run", "用户拒收或无剩余订阅次数，下次发送请剔除";
    UserBlocks = 48002, Row, "the user blocks messages from this account — drop them from the next run", "用户已拒收该账号消息，下次发送请剔除";
    UserLimited = 50002, Row, "the user is restricted by WeChat; retry another day", "用户受限，可改日重试";
    SensitiveWord = 45168, Row, "a value contains a sensitive word; change the text for this row", "内容含敏感词，请修改该行内容";
    ArgumentInvalid = 47003, Row, "a template value breaks its field rule; fix the value (see the field named in the message)", "模板参数不合规，请按提示修正对应字段";
    InvalidAppid = 40013, Stop, "invalid appid: check [wechat] appid (uniform: mp_appid must be bound to the mini program)", "appid 无效：请检查 [wechat] appid（uniform：mp_appid 须与小程序绑定）";
    InvalidAppSecret = 40125, Stop, "invalid app secret: check the secret in the variable named by secret_env", "AppSecret 无效：请检查 secret_env 指定的环境变量";
    IpNotWhitelisted = 40164, Stop, "this machine's IP is not in the API whitelist: add it in the WeChat admin console", "本机 IP 不在接口白名单：请在公众平台添加";
    AppSecretFrozen = 40243, Stop, "the app secret is frozen: unfreeze it in the WeChat admin console", "AppSecret 已冻结：请在公众平台解冻";
    ComponentNotAuthorized = 61003, Stop, "the merchant has not authorized this third-party platform: ask the merchant to authorize it (scan the platform's authorization QR code) first", "该公众号未授权给本第三方平台：请商户先扫码完成授权";
    ComponentIpNotWhitelisted = 61004, Stop, "this machine's IP is not in the third-party platform's IP whitelist: add it in the open platform console (third-party platform, development settings)", "本机 IP 不在第三方平台的白名单：请在开放平台（第三方平台 → 开发资料）添加";
    TicketExpired = 61005, Stop, "the component_verify_ticket is missing or expired: wait for WeChat's next push (every 10 minutes) and check that `wxsend receipts serve` is reachable at the platform's authorization-event URL", "component_verify_ticket 缺失或已过期：请等待微信下一次推送（每 10 分钟），并确认授权事件接收 URL 能访问到 `wxsend receipts serve`";
    TicketInvalid = 61006, Stop, "the component_verify_ticket is invalid: use the newest one WeChat pushed (every 10 minutes), and check that nothing else overwrites the ticket `wxsend receipts serve` keeps", "component_verify_ticket 无效：请使用微信最新推送的票据（每 10 分钟一次），并确认没有其他程序覆盖 `wxsend receipts serve` 保存的票据";
    RefreshTokenInvalid = 61023, Stop, "the merchant's refresh token is invalid (authorization withdrawn, or a newer refresh token replaced it): the merchant must authorize the platform again; then `wxsend accounts --import-authorizers ACCOUNT` keeps its new refresh token (or give it in the variable named by refresh_token_env)", "授权方刷新令牌无效（商户已取消授权，或已被新的刷新令牌替换）：请商户重新授权，再运行 `wxsend accounts --import-authorizers 账号` 保存新的刷新令牌（或通过 refresh_token_env 指定的环境变量提供）";
    IpNeedsConfirmation = 89503, Stop, "this IP needs an administrator's confirmation in the WeChat admin console", "此 IP 调用需要管理员确认";
    IpRefused = 89506, Stop, "an administrator refused calls from this IP; wait and ask them to allow it", "管理员拒绝了此 IP 的调用，请稍后联系管理员";
    IpRefusedForNow = 89507, Stop, "an administrator refused calls from this IP for now; retry in an hour", "管理员暂时拒绝此 IP 调用，请一小时后再试";
    InvalidTemplateIdSize = 40036, Stop, "invalid template id: check [message] template_id", "模板 ID 无效：请检查 [message] template_id";
    InvalidTemplateId = 40037, Stop, "invalid template id: check [message] template_id and that the template is in this account", "模板 ID 无效：请检查 template_id 及模板是否属于该账号";
    InvalidPage = 40165, Stop, "invalid mini-program page: check [message] page", "小程序页面路径无效：请检查 [message] page";
    InvalidPagePath = 41030, Stop, "invalid mini-program page: check [message] page exists in the released version", "page 路径不正确：请检查页面是否存在于已发布版本";
    TemplateBanned = 43107, Stop, "the template is banned: choose another template", "模板已被封禁，请更换模板";
    TemplateBannedForAbuse = 43116, Stop, "the template is banned for abuse: choose another template", "模板因滥用被封禁，请更换模板";
    Unauthorized = 48001, Stop, "the app is not authorized for this API", "应用未获得该接口权限";
    ApiBanned = 48004, Stop, "this API is banned for the app: see the WeChat admin console", "接口被封禁，请登录公众平台查看";
    DailyQuota = 45009, Stop, "daily API quota reached: resume tomorrow (the journal keeps the unsent rows)", "接口日调用量已达上限：明日继续（未发送行已记录）";
    ApiWithdrawn = 45103, Stop, "this API has been withdrawn by WeChat", "该接口已被微信下线";
    UniformWithdrawn = 45109, Stop, "WeChat withdrew uniform_send on 2023-09-20: use kind = \"template\" with the official account's appid and secret", "统一服务消息已于 2023-09-20 下线：请改用 kind = \"template\" 及公众号的 appid/secret";
    ApiUnavailable = 46101, Stop, "this API is not available to the account", "该账号无法使用此接口";
    MissingAccessToken = 41001, Stop, "no access token in the request (a bug in wxsend: please report it)", "缺少 access_token（wxsend 缺陷，请反馈）";
    MissingAppid = 41002, Stop, "no appid in the request (a bug in wxsend: please report it)", "缺少 appid（wxsend 缺陷，请反馈）";
    MissingSecret = 41004, Stop, "no secret in the request: set the variable named by secret_env", "缺少 secret：请设置 secret_env 指定的环境变量";
    WrongMethod = 43002, Stop, "wrong HTTP method (a bug in wxsend: please report it)", "HTTP 方法错误（wxsend 缺陷，请反馈）";
    EmptyBody = 44002, Stop, "empty request body (a bug in wxsend: please report it)", "请求体为空（wxsend 缺陷，请反馈）";
    MalformedBody = 47001, Stop, "malformed request body (a bug in wxsend: please report it)", "请求格式错误（wxsend 缺陷，请反馈）";
}

impl Ord for ErrCode {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.code().cmp(&other.code())
    }
}

impl PartialOrd for ErrCode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for ErrCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.code().to_string())
    }
}

/// What a failed attempt is grouped under: WeChat's errcode, or a transport failure (timeout,
/// reset, HTTP 5xx, an answer that is not JSON). The one place the label `transport` is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// No answer from WeChat that carried an errcode.
    Transport,
    /// WeChat's errcode.
    Api(ErrCode),
}

impl Code {
    /// The code of an optional errcode (`None`: a transport failure).
    pub fn of(errcode: Option<i64>) -> Self {
        errcode.map_or(Code::Transport, |c| Code::Api(ErrCode::from_code(c)))
    }

    /// The operator hint in the process's language, when there is one.
    pub fn hint(self) -> Option<&'static str> {
        match (self, crate::i18n::lang()) {
            (Code::Transport, crate::i18n::Lang::ZhCn) => {
                Some("微信无应答（超时、连接被重置、HTTP 5xx 或返回的不是 JSON）；已自动退避重试")
            }
            (Code::Api(c), _) => c.hint(),
            (Code::Transport, _) => self.hint_en(),
        }
    }

    /// The operator hint in English (report.json keeps one language for programs that read it).
    pub fn hint_en(self) -> Option<&'static str> {
        match self {
            Code::Transport => {
                Some("no answer from WeChat (timeout, reset, HTTP 5xx or not JSON); retried with backoff")
            }
            Code::Api(c) => c.hint_en(),
        }
    }

    /// WeChat's number, if the failure had one.
    pub fn errcode(self) -> Option<i64> {
        match self {
            Code::Transport => None,
            Code::Api(c) => Some(c.code()),
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Code::Transport => f.pad("transport"),
            Code::Api(c) => c.fmt(f),
        }
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The class of an error code; unknown codes fail the row.
pub fn classify(code: i64) -> ErrorClass {
    ErrCode::from_code(code).class()
}

/// The operator hint for a code, in the process's language.
pub fn hint(code: i64) -> Option<&'static str> {
    ErrCode::from_code(code).hint()
}

/// The request id WeChat appends to errmsg (` rid: 6aac005a-...` or ` hint: [...]`).
pub fn rid(errmsg: &str) -> Option<&str> {
    if let Some(i) = errmsg.find("rid: ") {
        return errmsg[i + 5..].split_whitespace().next();
    }
    errmsg.find("hint: [").and_then(|i| errmsg[i + 7..].split(']').next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_table() {
        assert_eq!(classify(0), ErrorClass::Ok);
        assert_eq!(classify(-1), ErrorClass::Retry);
        for c in [40001, 40014, 42001] {
            assert_eq!(classify(c), ErrorClass::Token);
        }
        assert_eq!(classify(45011), ErrorClass::SlowDown);
        assert_eq!(classify(43108), ErrorClass::SlowDown);
        for c in [40003, 43004, 43019, 43101, 48002, 50002, 45168, 47003] {
            assert_eq!(classify(c), ErrorClass::Row, "{c}");
        }
        for c in [40013, 40125, 40164, 40243, 40036, 40037, 45009, 45109, 47001, 48001] {
            assert_eq!(classify(c), ErrorClass::Stop, "{c}");
        }
        assert_eq!(classify(99999), ErrorClass::Row);
    }

    #[test]
    fn every_code_round_trips_has_both_hints_and_is_listed_once() {
        for c in ErrCode::KNOWN {
            assert_eq!(ErrCode::from_code(c.code()), *c);
            assert!(!c.hint().unwrap().is_empty() && !c.hint_zh().unwrap().is_empty());
            assert_eq!(ErrCode::KNOWN.iter().filter(|d| d.code() == c.code()).count(), 1, "{c}");
        }
        assert_eq!(ErrCode::from_code(12345), ErrCode::Other(12345));
        assert!(hint(43101).unwrap().contains("drop them from the next run"));
    }

    #[test]
    fn codes_label_and_sort_by_number() {
        assert_eq!(Code::of(None).to_string(), "transport");
        assert_eq!(Code::of(Some(-1)).to_string(), "-1");
        assert_eq!(format!("{:>6}|{:<4}|", Code::of(Some(-1)), Code::of(Some(7))), "    -1|7   |");
        assert_eq!(serde_json::to_string(&Code::of(Some(43101))).unwrap(), "\"43101\"");
        let mut v = [Code::of(Some(45009)), Code::of(None), Code::of(Some(-1)), Code::of(Some(40003))];
        v.sort();
        assert_eq!(v.iter().map(|c| c.to_string()).collect::<Vec<_>>(), ["transport", "-1", "40003", "45009"]);
    }

    #[test]
    fn rid_is_extracted() {
        assert_eq!(rid("invalid openid rid: 6aac005a-01bfdbee-79769285"), Some("6aac005a-01bfdbee-79769285"));
        assert_eq!(rid("invalid credential hint: [w1QcUA02648876!]"), Some("w1QcUA02648876!"));
        assert_eq!(rid("ok"), None);
    }
}
