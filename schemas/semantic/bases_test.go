package semantic

// Base messages of the table tests: schema-valid, semantically clean; each
// test case edits one of them. The example files under ../testdata are the
// long, realistic versions.

const baseBirth = `{
  "schemaVersion": "1.0.0",
  "messageType": "event.live-birth",
  "messageId": "5f0c8e2a-3b1d-4c6e-9a7f-2d4b8c1e6a30",
  "createdAt": "2024-03-20T10:15:00+03:00",
  "sender": {"nodeId": "TR-NVI-CRVS", "country": "TR"},
  "recipient": {"nodeId": "TJ-MOJ-CRVS", "country": "TJ"},
  "purpose": "citizenship-notification",
  "payload": {
    "action": "register",
    "registration": {
      "registrationNumber": "2024/34-FTH/001187",
      "registeringCountry": "TR",
      "registryOffice": "Fatih İlçe Nüfus Müdürlüğü",
      "registrationDate": "2024-03-19",
      "registrationType": "timely"
    },
    "event": {
      "dateOfOccurrence": "2024-03-14",
      "timeOfOccurrence": "04:40",
      "placeOfOccurrence": {"country": "TR", "subdivision": "TR-34", "locality": "İstanbul", "placeType": "health-facility", "facilityName": "Şehit Prof. Dr. İlhan Varank Eğitim ve Araştırma Hastanesi"},
      "typeOfBirth": "single",
      "weightAtBirthGrams": 3250
    },
    "child": {
      "sex": 2,
      "birthDate": "2024-03-14",
      "names": [
        {"script": "Cyrl", "language": "tg", "fullName": "Мадина Раҳимзода", "familyName": "Раҳимзода", "givenNames": "Мадина"},
        {"use": "transliteration", "script": "Latn", "fullName": "Madina Rahimzoda", "familyName": "Rahimzoda", "givenNames": "Madina"}
      ],
      "citizenships": ["TJ"],
      "nationalityStatus": "citizen"
    },
    "mother": {
      "status": "known",
      "person": {
        "sex": 2,
        "birthDate": "1996-07-02",
        "names": [{"script": "Cyrl", "language": "tg", "fullName": "Нилуфар Саидова", "familyName": "Саидова", "givenNames": "Нилуфар"}],
        "citizenships": ["TJ"],
        "nationalityStatus": "citizen",
        "identifiers": [{"scheme": "TR-TCKN", "value": "99234567892", "issuingCountry": "TR"}]
      }
    },
    "father": {
      "status": "known",
      "person": {
        "sex": 1,
        "birthDate": "1993-11-05",
        "names": [{"script": "Cyrl", "language": "kk", "fullName": "Ерлан Серікұлы Әбенов", "familyName": "Әбенов", "givenNames": "Ерлан", "patronymic": "Серікұлы"}],
        "citizenships": ["KZ"],
        "nationalityStatus": "citizen",
        "identifiers": [{"scheme": "KZ-IIN", "value": "931105304575", "issuingCountry": "KZ"}]
      }
    }
  }
}`

const baseDeath = `{
  "schemaVersion": "1.0.0",
  "messageType": "event.death",
  "messageId": "0b7e4c1d-2a3f-4e5d-8c6b-9a1f2e3d4c5b",
  "createdAt": "2025-01-22T09:00:00+05:00",
  "sender": {"nodeId": "UZ-MOJ-FHDYO", "country": "UZ"},
  "recipient": {"nodeId": "KZ-MOJ-CRVS", "country": "KZ"},
  "purpose": "citizenship-notification",
  "payload": {
    "action": "register",
    "registration": {"registrationNumber": "FHDYO-2025-000412", "registeringCountry": "UZ", "registrationDate": "2025-01-21", "registrationType": "timely"},
    "event": {
      "dateOfOccurrence": "2025-01-19",
      "placeOfOccurrence": {"country": "UZ", "locality": "Toshkent"},
      "ageAtDeath": {"value": 33, "unit": "years"}
    },
    "deceased": {
      "sex": 2,
      "birthDate": "1991-04-23",
      "names": [{"script": "Cyrl", "language": "kk", "fullName": "Айгүл Нұрланқызы Жұмабаева", "familyName": "Жұмабаева", "givenNames": "Айгүл", "patronymic": "Нұрланқызы"}],
      "citizenships": ["KZ"],
      "nationalityStatus": "citizen",
      "identifiers": [{"scheme": "KZ-IIN", "value": "910423403183", "issuingCountry": "KZ"}]
    }
  }
}`

const baseMarriage = `{
  "schemaVersion": "1.0.0",
  "messageType": "event.marriage",
  "messageId": "7a1c2e3f-4b5d-4a6e-8f7a-1b2c3d4e5f60",
  "createdAt": "2024-09-10T11:00:00+05:00",
  "sender": {"nodeId": "UZ-MOJ-FHDYO", "country": "UZ"},
  "recipient": {"nodeId": "TR-NVI-CRVS", "country": "TR"},
  "purpose": "citizenship-notification",
  "payload": {
    "action": "register",
    "registration": {"registrationNumber": "FHDYO-2024-018877", "registeringCountry": "UZ", "registrationDate": "2024-09-07", "registrationType": "timely"},
    "event": {"dateOfOccurrence": "2024-09-07", "placeOfOccurrence": {"country": "UZ", "locality": "Toshkent"}, "marriageForm": "civil"},
    "spouses": [
      {"person": {"sex": 1, "birthDate": "1990-05-15",
        "names": [{"script": "Latn", "language": "uz", "fullName": "Oʻktam Gʻulomov", "familyName": "Gʻulomov", "givenNames": "Oʻktam"}],
        "citizenships": ["UZ"], "identifiers": [{"scheme": "UZ-PINFL", "value": "31505902610019", "issuingCountry": "UZ"}]}},
      {"person": {"sex": 2, "birthDate": "1994-02-11",
        "names": [{"script": "Latn", "language": "tr", "fullName": "Ayşe Işık", "familyName": "IŞIK", "givenNames": "Ayşe"}],
        "citizenships": ["TR"], "identifiers": [{"scheme": "TR-TCKN", "value": "17463529030", "issuingCountry": "TR"}]}}
    ]
  }
}`

const baseDivorce = `{
  "schemaVersion": "1.0.0",
  "messageType": "event.divorce",
  "messageId": "3c4d5e6f-7a8b-4c9d-9e0f-1a2b3c4d5e6f",
  "createdAt": "2024-11-05T15:20:00+06:00",
  "sender": {"nodeId": "KZ-MOJ-CRVS", "country": "KZ"},
  "recipient": {"nodeId": "UZ-MOJ-FHDYO", "country": "UZ"},
  "purpose": "citizenship-notification",
  "payload": {
    "action": "register",
    "registration": {"registrationNumber": "АЛМ-2024-Р-004512", "registeringCountry": "KZ", "registrationDate": "2024-11-04", "registrationType": "court-ordered"},
    "event": {"dateOfOccurrence": "2024-10-28", "placeOfOccurrence": {"country": "KZ", "locality": "Алматы"}},
    "dissolvedMarriage": {"registeringCountry": "UZ", "registrationNumber": "FHDYO-2015-031220", "registrationDate": "2015-06-20", "eventType": "marriage"},
    "decision": {"authorityType": "court", "authorityName": "Медеуский районный суд г. Алматы", "decisionNumber": "2-4512/2024", "decisionDate": "2024-09-27", "finalDate": "2024-10-28"},
    "spouses": [
      {"person": {"sex": 1, "birthDate": "1988-03-09", "names": [{"script": "Latn", "language": "uz", "fullName": "Jasur Karimov", "familyName": "Karimov", "givenNames": "Jasur"}], "citizenships": ["UZ"]}},
      {"person": {"sex": 2, "birthDate": "1991-04-23", "names": [{"script": "Cyrl", "language": "kk", "fullName": "Айгүл Жұмабаева", "familyName": "Жұмабаева", "givenNames": "Айгүл"}], "citizenships": ["KZ"]}}
    ]
  }
}`

const baseAdoption = `{
  "schemaVersion": "1.0.0",
  "messageType": "event.adoption",
  "messageId": "9d8c7b6a-5f4e-4d3c-ab1a-0f9e8d7c6b5a",
  "createdAt": "2024-06-03T10:00:00+06:00",
  "sender": {"nodeId": "KZ-MOJ-CRVS", "country": "KZ"},
  "recipient": {"nodeId": "KG-GRS-CRVS", "country": "KG"},
  "purpose": "citizenship-notification",
  "payload": {
    "action": "register",
    "registration": {"registrationNumber": "АЛМ-2024-У-000233", "registeringCountry": "KZ", "registrationDate": "2024-05-30", "registrationType": "court-ordered"},
    "event": {"dateOfOccurrence": "2024-05-24", "placeOfOccurrence": {"country": "KZ", "locality": "Алматы"}, "adoptionType": "full"},
    "adoptee": {"sex": 1, "birthDate": "2021-08-17", "names": [{"script": "Cyrl", "language": "ky", "fullName": "Нурсултан Асанов", "familyName": "Асанов", "givenNames": "Нурсултан"}], "citizenships": ["KG"]},
    "adoptiveParents": [
      {"sex": 1, "birthDate": "1985-01-30", "names": [{"script": "Cyrl", "language": "kk", "fullName": "Бауыржан Омаров", "familyName": "Омаров", "givenNames": "Бауыржан"}], "citizenships": ["KZ"]}
    ],
    "decision": {"authorityType": "court", "decisionDate": "2024-05-10", "finalDate": "2024-05-24"},
    "originalRecordSealed": true
  }
}`

const baseCancellation = `{
  "schemaVersion": "1.0.0",
  "messageType": "record.cancellation",
  "messageId": "1e2d3c4b-5a69-4788-97a6-b5c4d3e2f100",
  "createdAt": "2024-04-02T12:00:00+05:00",
  "sender": {"nodeId": "TJ-MOJ-CRVS", "country": "TJ"},
  "recipient": {"nodeId": "KG-GRS-CRVS", "country": "KG"},
  "purpose": "correction-notice",
  "payload": {
    "record": {"registeringCountry": "TJ", "registrationNumber": "ДШБ-2024-Т-001402", "registrationDate": "2024-03-11", "eventType": "live-birth"},
    "cancelsMessageId": "2f3e4d5c-6b7a-4899-a0b1-c2d3e4f50617",
    "reason": "duplicate-registration",
    "effectiveDate": "2024-04-01"
  }
}`

const baseAttestation = `{
  "schemaVersion": "1.0.0",
  "messageType": "status.attestation",
  "messageId": "6b5a4f3e-2d1c-4b0a-9f8e-7d6c5b4a3f2e",
  "correlationId": "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b",
  "createdAt": "2024-07-15T09:30:05+06:00",
  "sender": {"nodeId": "KZ-MOJ-CRVS", "country": "KZ"},
  "recipient": {"nodeId": "TR-GIB-QUERY", "country": "TR"},
  "purpose": "identification-assistance",
  "payload": {
    "inResponseTo": "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b",
    "matchResult": "unique-match",
    "answers": {"isRegistered": "yes", "vitalStatus": "no-death-registered"},
    "attestedAt": "2024-07-15T09:30:00+06:00",
    "validUntil": "2024-10-15T09:30:00+06:00",
    "issuer": {"country": "KZ", "authority": "Министерство юстиции Республики Казахстан"}
  }
}`

const baseQuery = `{
  "schemaVersion": "1.0.0",
  "messageType": "status.query",
  "messageId": "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b",
  "createdAt": "2024-07-15T06:10:00+03:00",
  "sender": {"nodeId": "TR-GIB-QUERY", "country": "TR"},
  "recipient": {"nodeId": "KZ-MOJ-CRVS", "country": "KZ"},
  "purpose": "identification-assistance",
  "payload": {
    "requester": {"organization": "Göç İdaresi Başkanlığı", "organizationType": "border-agency", "caseRef": "GİB-2024-07-5531"},
    "consent": {"basis": "data-subject-consent", "obtainedAt": "2024-07-15T05:55:00+03:00", "method": "written"},
    "subject": {"sex": 2, "birthDate": "1991-04-23", "identifiers": [{"scheme": "KZ-IIN", "value": "910423403183", "issuingCountry": "KZ"}]},
    "questions": ["is-registered", "vital-status"]
  }
}`

const baseReceipt = `{
  "schemaVersion": "1.0.0",
  "messageType": "receipt",
  "messageId": "4a3b2c1d-0e9f-4a8b-8c7d-6e5f4a3b2c1d",
  "correlationId": "5f0c8e2a-3b1d-4c6e-9a7f-2d4b8c1e6a30",
  "createdAt": "2024-03-20T12:16:02+05:00",
  "sender": {"nodeId": "TJ-MOJ-CRVS", "country": "TJ"},
  "recipient": {"nodeId": "TR-NVI-CRVS", "country": "TR"},
  "purpose": "acknowledgement",
  "payload": {
    "inResponseTo": "5f0c8e2a-3b1d-4c6e-9a7f-2d4b8c1e6a30",
    "status": "accepted",
    "disposition": "recorded",
    "receivedAt": "2024-03-20T12:16:01+05:00"
  }
}`
