// What every page calls things: roles, case states and the server's problem codes, Chinese first.

export const T = {
  mediator: "调解员 Mediator", applicant: "申请人 Applicant", respondent: "被申请人 Respondent",
  agent: "代理人 Agent", insurer: "保险公司 Insurer", judge: "法官 Judge", observer: "旁听 Observer",
};

export const STATES = {
  referred: "已委派待分派 Referred, awaiting a mediator", assigned: "已分派待受理 Assigned, awaiting acceptance",
  filed: "已受理 Accepted", session_scheduled: "已安排调解 Session scheduled", in_session: "调解中 In session",
  between_sessions: "调解间歇 Between sessions", agreement_drafted: "协议已起草 Agreement drafted",
  signing: "签署中 Signing", signed: "已签署 Signed", serving: "送达中 Being served", served: "已送达 Served",
  confirmation_applied: "已申请司法确认 Confirmation applied for", confirmed: "已确认 Confirmed",
  rejected: "确认被驳回 Confirmation refused", mediation_failed: "调解不成 Mediation failed",
  withdrawn: "已撤回 Withdrawn", signing_expired: "签署已过期 Signing expired",
  service_failed: "送达未成 Service failed", closed: "已结案 Closed",
};

/** A case state as the pages show it: Chinese first (the raw name only if the page does not know it). */
export const stateName = (state) => STATES[state] || state;

export const ERRORS = {
  token_expired: "链接已过期，请联系调解员。This link has expired; ask your mediator for a new one.",
  token_revoked: "链接已失效。This link is no longer valid.",
  unauthenticated: "无法验证身份。We could not verify this link.",
  invalid_command: "暂时无法完成此操作。This cannot be done right now.",
  forbidden: "您无权进行此操作。You may not do this.",
  beyond_authorisation: "超出授权委托书的权限（金额、地区或期限）。Beyond your authorisation (amount, region or term).",
  insurer_not_on_platform: "对方的保险公司尚未入驻本平台，请联系保险公司线下理赔。The paying driver's insurer is not on the platform; claim from it directly.",
  rate_limited: "操作过于频繁，请稍候。Too many actions; please wait.",
  too_many_connections: "同时打开的连接过多，请关闭其他窗口后重试。Too many connections; close other windows and try again.",
  not_found: "找不到该案件或文书。Not found.",
  concurrent_update: "案件已被他人更新，请刷新后重试。The case changed; reload and try again.",
  precondition_failed: "案件已被他人更新，请刷新后重试。The case changed; reload and try again.",
  duplicate: "已存在相同的记录。This already exists.",
  confirmation_deadline_passed: "已超过申请司法确认的期限。The time to apply for confirmation has passed.",
  illegal_transition: "当前阶段不能进行此操作。Not possible at this stage.",
  validation_failed: "请检查填写的内容。Please check what you entered.",
  too_many_attempts: "尝试次数过多，请稍后再试。Too many attempts; try later.",
  stale_record: "调解员已更新记载，请阅读新版本后再确认。The mediator changed the record; read the new version first.",
  not_an_image: "这不是可识别的照片（仅限 JPEG、PNG、HEIC），请重新拍摄。This is not a photo we can read (JPEG, PNG or HEIC only); take it again.",
  image_size_refused: "照片尺寸不符合要求，请重新拍摄。The photo is too large or too small; take it again.",
  items_missing: "还有未填写的项目或未拍的照片。Some items or photos are still missing.",
  join_code_refused: "加入码不正确或已失效。The join code is wrong or no longer valid.",
  unsigned_opinion: "鉴定意见书须带有有效的电子签名。The opinion must carry a valid signature.",
  intake_unsigned: "请求未签名。The request is not signed.",
  intake_bad_signature: "请求签名不正确。The request's signature is wrong.",
  intake_unknown_key: "接入密钥不存在或已吊销。Unknown or revoked intake key.",
  stale_request: "请求时间与服务器相差超过5分钟。The request's time is more than 5 minutes off.",
  replayed_request: "该请求已提交过（重放）。This request was already sent (a replay).",
  intake_conflict: "该公安案件编号已以不同内容提交。This police case number was sent with another document.",
};

// A court's roster (特邀调解名册): the specialties' and statuses' names (server.domain.rosters).
export const SPECIALTIES = {
  traffic: "道路交通 Road traffic", finance: "金融 Finance", family: "婚姻家庭 Marriage & family",
  labour: "劳动争议 Labour", property: "物业 Property management", medical: "医疗纠纷 Medical",
  consumer: "消费 Consumer", insurance: "保险 Insurance", other: "其他 Other",
};

export const ROSTER_STATUSES = {
  active: "在册 Active", suspended: "暂停 Suspended", removed: "已除名 Removed",
};

// Referral desks (委派调解): how a case came, the disputes a desk files, the mediation period.
export const REFERRAL_KINDS = {
  own: "调解组织自行受理 Filed by the organisation", pre_litigation: "诉前委派 Referred before litigation",
  in_litigation: "诉中委托 Entrusted during litigation", application: "当事人申请 A party's application",
  police: "公安交管部门委托调解 Sent by the traffic police",
};

export const DISPUTES = {
  traffic_accident: "道路交通事故损害赔偿 Road traffic accident", financial: "金融纠纷 Financial dispute",
  family: "婚姻家庭纠纷 Family dispute", other: "其他纠纷 Other dispute",
};

export const OVERDUE = "超期 Overdue";
