#!/usr/bin/env python3
"""Derives mpi_gen's frequency tables from the pseudopeople sample (BSD-3-Clause).

Run from the repository root with the shared data beside it:
    python3 tools/mpi_gen/data/derive_tables.py ../shared/mpi-data
Writes first_names.csv, surnames.csv, streets.csv and ages.csv into tools/mpi_gen/data/.
The tables hold names and counts only (no person, no date of birth, no address number).
"""
import collections
import csv
import json
import os
import re
import sys

SOURCES = ['decennial_census.csv', 'social_security.csv', 'women_infants_and_children.csv',
           'american_community_survey.csv', 'current_population_survey.csv']
DIRECTIONALS = {'n': 'N', 's': 'S', 'e': 'E', 'w': 'W', 'north': 'N', 'south': 'S', 'east': 'E',
                'west': 'W', 'ne': 'NE', 'nw': 'NW', 'se': 'SE', 'sw': 'SW'}


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else '../shared/mpi-data'
    sample = os.path.join(shared, 'pseudopeople-sample')
    out_dir = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(shared, 'reference-tables', 'recordlinker_usps_street_suffixes.json')) as f:
        usps = json.load(f)

    # One row per simulant: the first table that names them wins.
    people = {}
    for name in SOURCES:
        with open(os.path.join(sample, name), newline='') as f:
            for row in csv.DictReader(f):
                people.setdefault(row['simulant_id'], row)

    first = collections.Counter()
    last = collections.Counter()
    for row in people.values():
        sex = {'Male': 'M', 'Female': 'F'}.get(row['sex'])
        if sex and re.fullmatch(r"[A-Za-z][A-Za-z' -]*", row['first_name']):
            first[(row['first_name'], sex)] += 1
        if re.fullmatch(r"[A-Za-z][A-Za-z' -]*", row['last_name']):
            last[row['last_name']] += 1

    # Streets: canonical "BASE SUFFIX" with a USPS suffix, weighted by households (capped, so
    # an apartment complex does not dominate).
    households = collections.defaultdict(set)
    with open(os.path.join(sample, 'decennial_census.csv'), newline='') as f:
        for row in csv.DictReader(f):
            tokens = row['street_name'].lower().split()
            if len(tokens) < 2:
                continue
            suffix = usps.get(tokens[-1].upper())
            if not suffix or tokens[-1] in DIRECTIONALS:
                continue
            words = []
            for i, token in enumerate(tokens[:-1]):
                if i == 0 and token in DIRECTIONALS and len(tokens) > 2:
                    words.append(DIRECTIONALS[token])
                elif re.fullmatch(r'[a-z]{3,}|\d+(st|nd|rd|th)', token):
                    words.append(token.upper())
                else:
                    words = None
                    break
            if words and any(len(w) > 2 for w in words):
                households[' '.join(words + [suffix])].add(row['household_id'])
    streets = {name: min(len(ids), 3) for name, ids in households.items()}

    ages = collections.Counter()
    with open(os.path.join(sample, 'decennial_census.csv'), newline='') as f:
        for row in csv.DictReader(f):
            if row['year'] == '2020' and row['age'].isdigit():
                ages[min(int(row['age']), 100)] += 1

    def write(name, header, rows):
        with open(os.path.join(out_dir, name), 'w', newline='') as f:
            writer = csv.writer(f, lineterminator='\n')
            writer.writerow(header)
            writer.writerows(rows)

    write('first_names.csv', ['name', 'sex', 'count'],
          sorted(((n, s, c) for (n, s), c in first.items()), key=lambda r: (-r[2], r[0], r[1])))
    write('surnames.csv', ['name', 'count'], sorted(last.items(), key=lambda r: (-r[1], r[0])))
    write('streets.csv', ['street', 'households'], sorted(streets.items(), key=lambda r: (-r[1], r[0])))
    write('ages.csv', ['age', 'count'], sorted(ages.items()))
    print(f'{len(people)} simulants: {len(first)} first names, {len(last)} surnames, '
          f'{len(streets)} streets, {len(ages)} ages')


if __name__ == '__main__':
    main()
