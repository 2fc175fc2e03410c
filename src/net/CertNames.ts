/**
 * The names in an X.509 certificate, read from its DER bytes the way nats-server 2.9 reads them
 * for `verify_and_map`: the SAN e-mail addresses, DNS names and URIs, the subject as Go renders
 * it (`pkix.RDNSequence.String()`, RFC 2253 order: `CN=alice,OU=eng,O=Acme\, Inc.,C=US`), and the
 * subject as an LDAP DN (nats-server's `ldap.FromRawCertSubject`) for DN matching against user
 * names parsed with RFC 4514 rules (`ldap.ParseDN`), exactly or with the RDNs in another order.
 *
 * Pure and synchronous; only a minimal DER walker (what certificates need), no crypto.
 *
 * @since 0.1.0
 */

interface Tlv {
  readonly tag: number
  readonly start: number
  readonly end: number
  /** The whole element, header included. */
  readonly from: number
}

const readTlv = (b: Uint8Array, at: number): Tlv => {
  const tag = b[at]!
  let len = b[at + 1]!
  let p = at + 2
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 4) throw new Error("unsupported DER length")
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + b[p++]!
  }
  if (p + len > b.length) throw new Error("truncated DER")
  return { tag, start: p, end: p + len, from: at }
}

const children = (b: Uint8Array, t: Tlv): Array<Tlv> => {
  const out: Array<Tlv> = []
  let p = t.start
  while (p < t.end) {
    const c = readTlv(b, p)
    out.push(c)
    p = c.end
  }
  return out
}

const oidString = (b: Uint8Array, t: Tlv): string => {
  const parts: Array<number> = []
  let v = 0
  for (let i = t.start; i < t.end; i++) {
    v = v * 128 + (b[i]! & 0x7f)
    if ((b[i]! & 0x80) === 0) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2
        parts.push(first, v - first * 40)
      } else parts.push(v)
      v = 0
    }
  }
  return parts.join(".")
}

/** One attribute of a relative distinguished name; `value` undefined when it is not a string type. */
export interface Attribute {
  readonly oid: string
  readonly value: string | undefined
}

/** A certificate's names. `subject` is in certificate (DER) order. */
export interface CertNames {
  readonly subject: ReadonlyArray<ReadonlyArray<Attribute>>
  readonly emails: ReadonlyArray<string>
  readonly dnsNames: ReadonlyArray<string>
  readonly uris: ReadonlyArray<string>
}

const decoder = new TextDecoder()

/** The ASN.1 string types Go decodes to a `string` (PrintableString, UTF8String, IA5String, …). */
const stringValue = (b: Uint8Array, t: Tlv): string | undefined => {
  const bytes = b.subarray(t.start, t.end)
  switch (t.tag) {
    case 0x0c: // UTF8String
      return decoder.decode(bytes)
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x12: // NumericString
    case 0x1a: // VisibleString
      return Buffer.from(bytes).toString("latin1")
    case 0x14: // T61String (Go: as Latin-1)
      return Buffer.from(bytes).toString("latin1")
    case 0x1e: { // BMPString (UTF-16BE)
      let s = ""
      for (let i = 0; i + 1 < bytes.length; i += 2) s += String.fromCharCode(bytes[i]! * 256 + bytes[i + 1]!)
      return s
    }
    default:
      return undefined
  }
}

/** Read the subject and the subject alternative names of a DER certificate. */
export const readCertNames = (der: Uint8Array): CertNames => {
  const cert = readTlv(der, 0)
  const tbs = children(der, cert)[0]!
  const fields = children(der, tbs)
  let i = 0
  if (fields[i]!.tag === 0xa0) i++ // [0] version
  // serialNumber, signature, issuer, validity, subject
  const subjectTlv = fields[i + 4]!
  const subject = children(der, subjectTlv).map((set) =>
    children(der, set).map((atv) => {
      const [type, value] = children(der, atv)
      return { oid: oidString(der, type!), value: value === undefined ? undefined : stringValue(der, value) }
    })
  )
  const emails: Array<string> = []
  const dnsNames: Array<string> = []
  const uris: Array<string> = []
  const extensions = fields.find((f) => f.tag === 0xa3)
  if (extensions !== undefined) {
    for (const ext of children(der, children(der, extensions)[0]!)) {
      const parts = children(der, ext)
      if (oidString(der, parts[0]!) !== "2.5.29.17") continue
      const octets = parts[parts.length - 1]!
      const names = readTlv(der, octets.start)
      for (const gn of children(der, names)) {
        const text = Buffer.from(der.subarray(gn.start, gn.end)).toString("latin1")
        if (gn.tag === 0x81) emails.push(text)
        else if (gn.tag === 0x82) dnsNames.push(text)
        else if (gn.tag === 0x86) uris.push(text)
      }
    }
  }
  return { subject, emails, dnsNames, uris }
}

// ---------------------------------------------------------------------------------------------
// Go's pkix.RDNSequence.String()
// ---------------------------------------------------------------------------------------------

/** Go's `pkix` attribute type names. */
const pkixNames: ReadonlyMap<string, string> = new Map([
  ["2.5.4.6", "C"],
  ["2.5.4.10", "O"],
  ["2.5.4.11", "OU"],
  ["2.5.4.3", "CN"],
  ["2.5.4.5", "SERIALNUMBER"],
  ["2.5.4.7", "L"],
  ["2.5.4.8", "ST"],
  ["2.5.4.9", "STREET"],
  ["2.5.4.17", "POSTALCODE"]
])

/** nats-server's `internal/ldap` attribute type names (the pkix ones and DC). */
const ldapNames: ReadonlyMap<string, string> = new Map([...pkixNames, ["0.9.2342.19200300.100.1.25", "DC"]])

const escapeValue = (v: string): string => {
  let out = ""
  const last = v.length - 1
  for (let k = 0; k < v.length; k++) {
    const c = v[k]!
    const escape = c === "," || c === "+" || c === "\"" || c === "\\" || c === "<" || c === ">" || c === ";" ||
      (c === " " && (k === 0 || k === last)) || (c === "#" && k === 0)
    out += escape ? "\\" + c : c
  }
  return out
}

/** The order in which Go's `pkix.Name.ToRDNSequence` rebuilds a subject (first = last in the string). */
const goOrder: ReadonlyArray<readonly [string, "all" | "last"]> = [
  ["2.5.4.6", "all"], // C
  ["2.5.4.8", "all"], // ST
  ["2.5.4.7", "all"], // L
  ["2.5.4.9", "all"], // STREET
  ["2.5.4.17", "all"], // POSTALCODE
  ["2.5.4.10", "all"], // O
  ["2.5.4.11", "all"], // OU
  ["2.5.4.3", "last"], // CN
  ["2.5.4.5", "last"] // SERIALNUMBER
]

/**
 * The subject as Go's `cert.Subject.ToRDNSequence().String()` renders it. Go first parses the
 * subject into a `pkix.Name` and rebuilds it: the known attributes only, in a fixed order (C, ST,
 * L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER), every value of one type in one multi-valued RDN,
 * only the last CN and SERIALNUMBER; other attributes (e-mail, DC, UID) are left out. Then
 * RFC 2253 order: last first.
 */
export const goSubjectString = (subject: CertNames["subject"]): string => {
  const values = new Map<string, Array<string>>()
  for (const rdn of subject) {
    for (const a of rdn) {
      if (a.value === undefined || !pkixNames.has(a.oid)) continue
      const list = values.get(a.oid) ?? []
      list.push(a.value)
      values.set(a.oid, list)
    }
  }
  const rdns: Array<string> = []
  for (const [oid, which] of goOrder) {
    const list = values.get(oid)
    if (list === undefined || list.length === 0) continue
    const picked = which === "last" ? [list[list.length - 1]!] : list
    rdns.push(picked.map((v) => `${pkixNames.get(oid)}=${escapeValue(v)}`).join("+"))
  }
  return rdns.reverse().join(",")
}

/** nats-server's `getTLSAuthDCs`: the DC attributes as `DC=a,DC=b` (certificate order). */
export const domainComponents = (subject: CertNames["subject"]): string =>
  subject.flatMap((rdn) => rdn.filter((a) => a.oid === "0.9.2342.19200300.100.1.25" && a.value !== undefined).map((a) => `DC=${a.value}`)).join(",")

// ---------------------------------------------------------------------------------------------
// LDAP distinguished names (nats-server's internal/ldap)
// ---------------------------------------------------------------------------------------------

export type Dn = ReadonlyArray<ReadonlyArray<{ readonly type: string; readonly value: string }>>

/** `ldap.FromRawCertSubject`: last RDN first, each RDN's attributes reversed; undefined on an unknown type. */
export const subjectDn = (subject: CertNames["subject"]): Dn | undefined => {
  const out: Array<Array<{ type: string; value: string }>> = []
  for (let i = subject.length - 1; i >= 0; i--) {
    const rdn = subject[i]!
    if (rdn.length === 0) continue
    const attrs: Array<{ type: string; value: string }> = []
    for (let j = rdn.length - 1; j >= 0; j--) {
      const type = ldapNames.get(rdn[j]!.oid)
      const value = rdn[j]!.value
      if (type === undefined || value === undefined) return undefined
      attrs.push({ type, value })
    }
    out.push(attrs)
  }
  return out
}

/** `ldap.ParseDN` (RFC 4514): `CN=a\,b+UID=x,O=y`; undefined when it is not a DN. */
export const parseDn = (text: string): Dn | undefined => {
  const rdns: Array<Array<{ type: string; value: string }>> = []
  let rdn: Array<{ type: string; value: string }> = []
  let type: string | undefined
  let buf = ""
  const flushAttr = (): boolean => {
    if (type === undefined) return false
    const t = type.trim()
    if (t === "") return false
    rdn.push({ type: t, value: buf.trim() })
    type = undefined
    buf = ""
    return true
  }
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === "\\") {
      const next = text.slice(i + 1, i + 3)
      if (/^[0-9a-fA-F]{2}$/.test(next)) {
        // A run of \HH escapes is one UTF-8 sequence.
        const bytes: Array<number> = []
        while (/^\\[0-9a-fA-F]{2}$/.test(text.slice(i, i + 3))) {
          bytes.push(parseInt(text.slice(i + 1, i + 3), 16))
          i += 3
        }
        i--
        buf += Buffer.from(bytes).toString("utf8")
      } else if (i + 1 < text.length) {
        buf += text[++i]
      } else return undefined
    } else if (c === "=" && type === undefined) {
      type = buf
      buf = ""
    } else if (c === "+" && type !== undefined) {
      if (!flushAttr()) return undefined
    } else if ((c === "," || c === ";") && type !== undefined) {
      if (!flushAttr()) return undefined
      rdns.push(rdn)
      rdn = []
    } else buf += c
  }
  if (type === undefined) return text.trim() === "" && rdns.length === 0 ? [] : undefined
  if (!flushAttr()) return undefined
  rdns.push(rdn)
  return rdns
}

const attrEqual = (a: { type: string; value: string }, b: { type: string; value: string }) =>
  a.type.toLowerCase() === b.type.toLowerCase() && a.value === b.value

const rdnEqual = (a: Dn[number], b: Dn[number]): boolean =>
  a.length === b.length && a.every((x) => b.some((y) => attrEqual(x, y))) && b.every((y) => a.some((x) => attrEqual(x, y)))

/** `DN.Equal`: the same RDNs in the same order. */
export const dnEqual = (a: Dn, b: Dn): boolean => a.length === b.length && a.every((r, i) => rdnEqual(r, b[i]!))

/** `DN.RDNsMatch`: the same RDNs in any order. */
export const dnRdnsMatch = (a: Dn, b: Dn): boolean =>
  a.length === b.length && a.every((r) => b.some((o) => rdnEqual(r, o)))

// ---------------------------------------------------------------------------------------------
// verify_and_map
// ---------------------------------------------------------------------------------------------

/**
 * nats-server's `checkClientTLSCertSubject` with the client-auth lookup: the first of (SAN e-mail,
 * SAN DNS name, SAN URI) that names a user, else the subject DN equal to a user name parsed as a
 * DN (in order, then in any order), else the Go subject string (with the DCs appended, then
 * without). Returns the user's name, or undefined; `debug` gets nats-server's debug lines.
 */
export const mapCertificate = (
  names: CertNames,
  userNames: ReadonlyArray<string>,
  debug: (line: string) => void
): string | undefined => {
  const users = new Set(userNames)
  const q = (s: string) => JSON.stringify(s)
  const rdn = goSubjectString(names.subject)
  if (names.emails.length === 0 && rdn === "" && names.uris.length === 0) {
    debug("User required in cert, none found")
    return undefined
  }
  for (const e of names.emails) {
    if (users.has(e)) {
      debug(`Using email found in cert for auth [${q(e)}]`)
      return e
    }
  }
  for (const d of names.dnsNames) {
    if (users.has(d)) {
      debug(`Using SAN found in cert for auth [${q(d)}]`)
      return d
    }
  }
  for (const u of names.uris) {
    if (users.has(u)) {
      debug(`Using URI found in cert for auth [${q(u)}]`)
      return u
    }
  }
  const certDn = subjectDn(names.subject)
  if (certDn !== undefined) {
    const parsed: Array<readonly [string, Dn]> = []
    for (const name of userNames) {
      const dn = parseDn(name)
      if (dn === undefined) continue
      if (dnEqual(dn, certDn)) {
        debug(`Using DistinguishedNameMatch for auth [${q(name)}]`)
        return name
      }
      parsed.push([name, dn])
    }
    for (const [name, dn] of parsed) {
      if (dnRdnsMatch(dn, certDn)) {
        debug(`Using DistinguishedNameMatch for auth [${q(name)}]`)
        return name
      }
    }
    debug(`DistinguishedNameMatch could not be used for auth [${q(rdn)}]`)
  }
  const dcs = domainComponents(names.subject)
  if (dcs !== "") {
    const u = `${rdn},${dcs}`
    if (users.has(u)) {
      debug(`Using RDNSequence for auth [${q(u)}]`)
      return u
    }
    debug(`RDNSequence could not be used for auth [${q(u)}]`)
  }
  if (users.has(rdn)) {
    debug(`Using certificate subject for auth [${q(rdn)}]`)
    return rdn
  }
  debug(`User in cert [${q(rdn)}], not found`)
  return undefined
}
