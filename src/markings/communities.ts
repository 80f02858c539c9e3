import type { Community } from './model.js';

// Dates are when membership took effect. FVEY: UKUSA Agreement 1946, Canada 1948,
// Australia and New Zealand 1956. NATO: treaty signature 1949 and each accession protocol's
// entry into force. EU: the EEC/EU accession date of each member; the United Kingdom left on
// 2020-01-31 (its membership ends before 2020-02-01).
const FVEY_DATES: Record<string, string> = {
  USA: '1946-03-05',
  GBR: '1946-03-05',
  CAN: '1948-01-01',
  AUS: '1956-01-01',
  NZL: '1956-01-01',
};

const NATO_DATES: Record<string, string> = {
  BEL: '1949-04-04',
  CAN: '1949-04-04',
  DNK: '1949-04-04',
  FRA: '1949-04-04',
  ISL: '1949-04-04',
  ITA: '1949-04-04',
  LUX: '1949-04-04',
  NLD: '1949-04-04',
  NOR: '1949-04-04',
  PRT: '1949-04-04',
  GBR: '1949-04-04',
  USA: '1949-04-04',
  GRC: '1952-02-18',
  TUR: '1952-02-18',
  DEU: '1955-05-06',
  ESP: '1982-05-30',
  CZE: '1999-03-12',
  HUN: '1999-03-12',
  POL: '1999-03-12',
  BGR: '2004-03-29',
  EST: '2004-03-29',
  LVA: '2004-03-29',
  LTU: '2004-03-29',
  ROU: '2004-03-29',
  SVK: '2004-03-29',
  SVN: '2004-03-29',
  ALB: '2009-04-01',
  HRV: '2009-04-01',
  MNE: '2017-06-05',
  MKD: '2020-03-27',
  FIN: '2023-04-04',
  SWE: '2024-03-07',
};

const EU_DATES: Record<string, string> = {
  BEL: '1958-01-01',
  FRA: '1958-01-01',
  DEU: '1958-01-01',
  ITA: '1958-01-01',
  LUX: '1958-01-01',
  NLD: '1958-01-01',
  DNK: '1973-01-01',
  IRL: '1973-01-01',
  GRC: '1981-01-01',
  PRT: '1986-01-01',
  ESP: '1986-01-01',
  AUT: '1995-01-01',
  FIN: '1995-01-01',
  SWE: '1995-01-01',
  CYP: '2004-05-01',
  CZE: '2004-05-01',
  EST: '2004-05-01',
  HUN: '2004-05-01',
  LVA: '2004-05-01',
  LTU: '2004-05-01',
  MLT: '2004-05-01',
  POL: '2004-05-01',
  SVK: '2004-05-01',
  SVN: '2004-05-01',
  BGR: '2007-01-01',
  ROU: '2007-01-01',
  HRV: '2013-07-01',
};

function membersFrom(dates: Record<string, string>) {
  return Object.entries(dates).map(([partner, from]) => ({ partner, from }));
}

/** The communities every node knows; configuration may add more. */
export const BUILTIN_COMMUNITIES: readonly Community[] = [
  { code: 'FVEY', name: 'Five Eyes', members: membersFrom(FVEY_DATES) },
  {
    code: 'ACGU',
    name: 'Australia, Canada, United Kingdom, United States',
    members: membersFrom({ AUS: '1956-01-01', CAN: '1948-01-01', GBR: '1946-03-05', USA: '1946-03-05' }),
  },
  { code: 'NATO', name: 'North Atlantic Treaty Organization', members: membersFrom(NATO_DATES) },
  {
    code: 'EU',
    name: 'European Union',
    members: [...membersFrom(EU_DATES), { partner: 'GBR', from: '1973-01-01', until: '2020-02-01' }],
  },
];
