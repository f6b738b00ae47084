#!/usr/bin/env python3
"""Seeds of the `pdu` fuzz target: the request PDUs that OpenLDAP's command-line clients
send, captured by a minimal loopback responder (success for binds and searches, compareTrue,
protocolError for extended operations), one file per distinct PDU.

Usage: fuzz/seeds/capture-pdus.py OUT_DIR (needs ldapsearch, ldapwhoami, ldapcompare)."""
import hashlib, os, socket, subprocess, sys, threading

out = sys.argv[1]
os.makedirs(out, exist_ok=True)

def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body

def read_pdu(conn):
    head = conn.recv(2, socket.MSG_WAITALL)
    if len(head) < 2:
        return None
    extra = b""
    if head[1] & 0x80:
        extra = conn.recv(head[1] & 0x7F, socket.MSG_WAITALL)
        length = int.from_bytes(extra, "big")
    else:
        length = head[1]
    return head + extra + conn.recv(length, socket.MSG_WAITALL)

def reply(pdu):
    # The message id TLV follows the SEQUENCE header; the operation tag follows it.
    i = 2 + (pdu[1] & 0x7F if pdu[1] & 0x80 else 0)
    msgid = pdu[i:i + 2 + pdu[i + 1]]
    op = pdu[i + 2 + pdu[i + 1]]
    result = lambda code: tlv(0x0A, bytes([code])) + tlv(0x04, b"") + tlv(0x04, b"")
    answer = {0x60: (0x61, 0), 0x63: (0x65, 0), 0x6E: (0x6F, 6), 0x77: (0x78, 2)}.get(op)
    if answer is None:
        return None
    return tlv(0x30, msgid + tlv(answer[0], result(answer[1])))

def serve(sock):
    while True:
        conn, _ = sock.accept()
        with conn:
            # A client that loops (VLV asks for the next window) is cut after a few PDUs.
            for _ in range(4):
                if (pdu := read_pdu(conn)) is None:
                    break
                name = hashlib.sha1(pdu).hexdigest()[:16]
                with open(os.path.join(out, "ldap-utils-" + name), "wb") as f:
                    f.write(pdu)
                r = reply(pdu)
                if r is None:
                    break
                conn.sendall(r)

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(8)
port = sock.getsockname()[1]
threading.Thread(target=serve, args=(sock,), daemon=True).start()

url = f"ldap://127.0.0.1:{port}"
base = ["-x", "-H", url, "-o", "nettimeout=3"]
search = ["ldapsearch", *base, "-b", "dc=example,dc=com"]
runs = [
    [*search, "(objectClass=*)"],
    [*search, "-s", "one", "-z", "20", "-l", "5", "(|(cn=jo*)(sn=jo*))", "cn", "telephoneNumber"],
    [*search, "-s", "base", "-b", "", "(objectClass=*)", "+"],
    [*search, "-D", "cn=phone,dc=example,dc=com", "-w", "not-a-secret", "(telephoneNumber=*5550100)"],
    [*search, "-E", "pr=10/noprompt", "(&(objectClass=person)(mail=*))"],
    [*search, "-E", "sss=cn", "-E", "vlv=0/9/1/0", "(cn=*)"],
    [*search, "-E", "!sss=sn/-cn", "(givenName~=jon)"],
    [*search, "-E", "!manageDSAit", "(!(department=Sales))"],
    [*search, "-A", "-a", "always", "(&(sn>=M)(sn<=N)(telephoneNumber=+1 425*))"],
    [*search, "(cn:caseExactMatch:=Megan Bowen)", "1.1"],
    [*search, "(:dn:2.5.13.5:=users)", "*"],
    [*search, "(cn=\\28paren\\29 \\2a star \\5c back)"],
    [*search, "(displayName=Jürgen Müller)"],
    ["ldapwhoami", *base, "-D", "uid=megan.bowen@example.com,ou=users,dc=example,dc=com", "-w", "not-a-secret"],
    ["ldapcompare", *base, "uid=megan.bowen@example.com,ou=users,dc=example,dc=com", "department:Marketing"],
    ["ldapsearch", *base, "-Z", "-b", "dc=example,dc=com", "(uid=alex*)"],
]
for argv in runs:
    try:
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10)
    except subprocess.TimeoutExpired:
        pass
print(len(os.listdir(out)), "PDUs in", out)
