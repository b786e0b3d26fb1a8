import { describe, expect, test } from "bun:test";
import { forbiddenAddress, targetRefusal } from "../src/webhooks/target.ts";

// The SSRF rule of webhook targets, without a network: which addresses are refused and why, and how a
// URL is judged (scheme, credentials, literal addresses, every resolved address).

describe("forbiddenAddress", () => {
  test.each([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["10.0.0.1", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["169.254.0.1", "link-local"],
    ["169.254.169.254", "cloud metadata"],
    ["169.254.170.2", "cloud metadata"],
    ["100.100.100.200", "cloud metadata"],
    ["192.0.0.192", "cloud metadata"],
    ["100.64.0.1", "CGNAT"],
    ["100.127.255.255", "CGNAT"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["198.18.0.1", "reserved"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fc00::1", "private"],
    ["fd00:ec2::254", "cloud metadata"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["febf:ffff::1", "link-local"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["::127.0.0.1", "loopback"],
    ["64:ff9b::a9fe:a9fe", "cloud metadata"],
    ["2002:c0a8:0101::1", "private"],
    ["not an address", "unparsable"],
  ])("%s → %s", (address, why) => {
    expect(forbiddenAddress(address)).toBe(why);
  });

  test.each([
    "93.184.216.34",
    "8.8.8.8",
    "172.32.0.1",
    "100.128.0.1",
    "169.255.0.1",
    "203.0.113.10",
    "2606:2800:220:1:248:1893:25c8:1946",
    "2001:4860:4860::8888",
    "::ffff:93.184.216.34",
    "2002:5db8:d822::1",
  ])("%s is public", (address) => {
    expect(forbiddenAddress(address)).toBeNull();
  });
});

describe("targetRefusal", () => {
  const resolver = (answers: Record<string, string[]>) => async (host: string) => {
    const answer = answers[host];
    if (!answer) throw new Error(`ENOTFOUND ${host}`);
    return answer;
  };
  const hardened = (answers: Record<string, string[]> = {}) => ({
    allowPrivate: false,
    resolve: resolver(answers),
  });

  test("https on a host that resolves to public addresses only is allowed", async () => {
    const rule = hardened({ "hooks.example.org": ["93.184.216.34", "2606:2800:220:1::1"] });
    expect(await targetRefusal("https://hooks.example.org/x?y=1", rule)).toBeNull();
  });

  test("every address counts: one private among public ones refuses", async () => {
    const rule = hardened({ "hooks.example.org": ["93.184.216.34", "fd00::5"] });
    expect(await targetRefusal("https://hooks.example.org/", rule)).toBe(
      "hooks.example.org resolves to fd00::5, a private address",
    );
  });

  test("scheme, credentials, no address at all", async () => {
    expect(await targetRefusal("http://hooks.example.org/", hardened())).toBe("must be https");
    expect(await targetRefusal("ftp://hooks.example.org/", hardened())).toBe("must be an http(s) URL");
    expect(await targetRefusal("https://u:p@hooks.example.org/", hardened())).toBe(
      "must not carry credentials",
    );
    expect(await targetRefusal("nonsense", hardened())).toBe("not a URL");
    expect(await targetRefusal("https://empty.example.org/", hardened({ "empty.example.org": [] }))).toBe(
      "empty.example.org resolves to no address",
    );
  });

  test("address literals are judged without resolving (the URL parser's spellings too)", async () => {
    const rule = { allowPrivate: false, resolve: () => Promise.reject(new Error("must not resolve")) };
    expect(await targetRefusal("https://[::1]:8443/", rule)).toBe("::1 is a loopback address");
    expect(await targetRefusal("https://0x7f.1/", rule)).toBe("127.0.0.1 is a loopback address");
    expect(await targetRefusal("https://203.0.113.10/hook", rule)).toBeNull();
  });

  test("a host that does not resolve throws (a refusal at creation, a retry at delivery: the caller's choice)", async () => {
    await expect(targetRefusal("https://gone.example.org/", hardened())).rejects.toThrow(/ENOTFOUND/);
  });

  test("CELINE_ENV=dev: http and loopback allowed, nothing resolved; other schemes still refused", async () => {
    const rule = { allowPrivate: true, resolve: () => Promise.reject(new Error("must not resolve")) };
    expect(await targetRefusal("http://127.0.0.1:8080/hook", rule)).toBeNull();
    expect(await targetRefusal("http://localhost/hook", rule)).toBeNull();
    expect(await targetRefusal("file:///etc/passwd", rule)).toBe("must be an http(s) URL");
  });
});
