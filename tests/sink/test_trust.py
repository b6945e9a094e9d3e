"""The trust-space whitelist: round trip, membership rules, bad and hostile XML."""

from __future__ import annotations

import pytest

from mssante_conformance.trust import NAMESPACE, TrustWhitelist, WhitelistError

# Shaped like the published list as far as the public code shows it: namespaced
# Domaine/Nom, whitespace around names, a non-ASCII domain, other elements around.
PUBLISHED_SHAPE = f"""<?xml version="1.0" encoding="UTF-8"?>
<ListeBlanche xmlns="{NAMESPACE}">
  <DateGeneration>2024-01-01T00:00:00</DateGeneration>
  <Domaine><Nom>
      operateur-reference.test </Nom><Type>operateur</Type></Domaine>
  <Domaine><Nom>hôpital-exemple.test</Nom></Domaine>
  <Domaine><Nom>   </Nom></Domaine>
  <Domaine><Nom>harnais.mssante.test</Nom></Domaine>
</ListeBlanche>
""".encode()


def test_round_trip_write_then_load(tmp_path):
    original = TrustWhitelist(["harnais.mssante.test", "Operateur-Reference.test", "hôpital-exemple.test"])
    path = original.write(tmp_path / "sub" / "listeblanche.xml")
    loaded = TrustWhitelist.load(path)
    assert loaded == original
    assert loaded.domains == ("harnais.mssante.test", "Operateur-Reference.test", "hôpital-exemple.test")
    text = path.read_text(encoding="utf-8")
    assert f'xmlns="{NAMESPACE}"' in text and "<Domaine>" in text and "<Nom>hôpital-exemple.test</Nom>" in text
    assert [p.name for p in path.parent.iterdir()] == ["listeblanche.xml"]  # no temporary file left


def test_reads_the_published_shape():
    wl = TrustWhitelist.parse(PUBLISHED_SHAPE)
    assert wl.domains == ("operateur-reference.test", "hôpital-exemple.test", "harnais.mssante.test")


def test_membership_is_case_insensitive_exact_and_idna_aware():
    wl = TrustWhitelist.parse(PUBLISHED_SHAPE)
    assert wl.contains("OPERATEUR-REFERENCE.test") and "operateur-reference.test." in wl
    assert wl.contains("xn--hpital-exemple-0ob.test")  # ACE form of hôpital-exemple.test
    assert wl.contains("HÔPITAL-EXEMPLE.TEST")
    assert not wl.contains("mx.operateur-reference.test")  # no subdomain inheritance
    assert not wl.contains("reference.test") and not wl.contains("") and not wl.contains("  ")
    assert wl.contains_address("robot@harnais.mssante.test")
    assert not wl.contains_address("robot@hors-espace.test") and not wl.contains_address("harnais.mssante.test")


def test_duplicates_collapse_and_unnamespaced_lists_are_read():
    wl = TrustWhitelist.parse(b"<ListeBlanche><Domaine><Nom>a.test</Nom></Domaine><Domaine><Nom>A.TEST</Nom></Domaine></ListeBlanche>")
    assert wl.domains == ("a.test",)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"<ListeBlanche><Domaine><Nom>a.test</Nom>", "n'est pas un XML valide"),
        (b"", "n'est pas un XML valide"),
        (b"<autre xmlns='urn:x'><y/></autre>", "espace de noms"),
        (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY x SYSTEM "file:///etc/passwd">]><l>&x;</l>', "DOCTYPE"),
        (b'<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>', "DOCTYPE"),
        # UTF-16: no "<!DOCTYPE" byte string to find, yet the same internal entity (issue 12)
        ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE l [<!ENTITY a "x.test">]>'
         '<ListeBlanche xmlns="https://listeblanche.mssante.fr/schema">'
         '<Domaine><Nom>&a;</Nom></Domaine></ListeBlanche>'.encode("utf-16"), "DOCTYPE"),
    ],
)
def test_bad_or_hostile_xml_is_a_clear_error(data, message):
    with pytest.raises(WhitelistError, match=message):
        TrustWhitelist.parse(data)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(WhitelistError, match="illisible"):
        TrustWhitelist.load(tmp_path / "absente.xml")
