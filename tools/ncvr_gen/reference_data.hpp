// Embedded word lists for synthetic recipients, locations and addresses. Internal to ncvr_gen.
#pragma once

#include <string_view>

namespace vaxetl::ncvr_gen::ref {

using sv = std::string_view;

inline constexpr sv kFemaleFirst[] = {
    "Mary",    "Patricia", "Jennifer", "Linda",    "Elizabeth", "Barbara", "Susan",   "Jessica",
    "Sarah",   "Karen",    "Nancy",    "Lisa",     "Betty",     "Margaret", "Sandra", "Ashley",
    "Emily",   "Donna",    "Michelle", "Dorothy",  "Carol",     "Amanda",  "Melissa", "Deborah",
    "Stephanie", "Rebecca", "Laura",   "Sharon",   "Cynthia",   "Kathleen", "Amy",    "Shirley",
    "Angela",  "Helen",    "Anna",     "Brenda",   "Pamela",    "Nicole",  "Emma",    "Olivia",
    "Ava",     "Sophia",   "Isabella", "Mia",      "Harper",    "Evelyn",  "Abigail", "Ella",
    "María",   "Guadalupe", "Chloé",   "Mei",      "Aaliyah",   "Imani",   "Keisha",  "Ngozi",
    "Priya",   "Ana",      "Lucía",    "Mary-Kate", "Zoë",      "Yesenia", "Latoya",  "Hannah"};

inline constexpr sv kMaleFirst[] = {
    "James",   "Robert",  "John",     "Michael",  "David",   "William", "Richard", "Joseph",
    "Thomas",  "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark",   "Donald",
    "Steven",  "Paul",    "Andrew",   "Joshua",   "Kenneth", "Kevin",   "Brian",   "George",
    "Timothy", "Ronald",  "Edward",   "Jason",    "Jeffrey", "Ryan",    "Jacob",   "Gary",
    "Nicholas", "Eric",   "Jonathan", "Stephen",  "Larry",   "Justin",  "Scott",   "Brandon",
    "Liam",    "Noah",    "Elijah",   "Lucas",    "Mason",   "Ethan",   "Logan",   "Jackson",
    "José",    "Luis",    "Jesús",    "Wei",      "DeShawn", "Tyrone",  "Malik",   "Chinedu",
    "Raj",     "Juan",    "Andrés",   "Jean-Paul", "Darnell", "Omar",   "Tuan",    "Billy Ray"};

inline constexpr sv kLast[] = {
    "Smith",    "Johnson",  "Williams", "Brown",     "Jones",     "Garcia",   "Miller",
    "Davis",    "Rodriguez", "Martinez", "Hernandez", "Lopez",    "Gonzalez", "Wilson",
    "Anderson", "Thomas",   "Taylor",   "Moore",     "Jackson",   "Martin",   "Lee",
    "Perez",    "Thompson", "White",    "Harris",    "Sanchez",   "Clark",    "Ramirez",
    "Lewis",    "Robinson", "Walker",   "Young",     "Allen",     "King",     "Wright",
    "Scott",    "Torres",   "Nguyen",   "Hill",      "Flores",    "Green",    "Adams",
    "Nelson",   "Baker",    "Hall",     "Rivera",    "Campbell",  "Mitchell", "Carter",
    "Roberts",  "Locklear", "Oxendine", "Hunt",      "Chavis",    "Jacobs",   "Lowery",
    "O'Neal",   "O'Brien",  "McMillan", "McLeod",    "MacDonald", "Smith-Jones", "Barnes-Walker",
    "De La Cruz", "Van Buren", "Saint Clair", "Muñoz",  "Peña",      "Núñez",    "Tran",
    "Pham",     "Le",       "Kim",      "Patel",     "Shah",      "Okafor",   "Mensah",
    "Yang",     "Xiong",    "Vang",     "Cherry",    "Pittman",   "Blackwell"};

inline constexpr sv kMiddle[] = {"A", "B", "C", "D", "E", "J", "L", "M", "R", "S", "T", "W",
                                 "Ann", "Lee", "Marie", "Lynn", "Ray", "Allen", "James", "Grace",
                                 "Louise", "Edward", "Mae", "Jo"};

inline constexpr sv kSuffix[] = {"JR", "SR", "II", "III", "IV", "V"};

inline constexpr sv kStreetNames[] = {
    "Main",     "Oak",       "Pine",     "Maple",    "Cedar",    "Elm",       "Dogwood",
    "Magnolia", "Hillsborough", "Glenwood", "Wade",  "Tryon",    "Independence", "Fayetteville",
    "Market",   "Church",    "College",  "Franklin", "Washington", "Lake",    "Mill",
    "Spring",   "Forest",    "Peachtree", "Longleaf", "Blue Ridge", "Cape Fear", "Neuse River",
    "Haw River", "Catawba",  "Yadkin",   "Sunset",   "Highland", "Park",      "Chestnut",
    "Walnut",   "Poplar",    "Holly",    "Laurel",   "Sycamore"};
inline constexpr sv kStreetTypes[] = {"St", "Ave", "Rd", "Dr", "Ln", "Ct", "Blvd", "Way",
                                      "Pl", "Cir", "Hwy", "Trl", "Street", "Road", "Drive"};
inline constexpr sv kUnitTypes[] = {"Apt", "Unit", "Ste", "Apt", "Lot", "#"};

// 100 NC counties in alphabetical order; FIPS is 37000 + 2*index + 1.
inline constexpr sv kNcCounties[] = {
    "Alamance",   "Alexander",  "Alleghany",   "Anson",       "Ashe",        "Avery",
    "Beaufort",   "Bertie",     "Bladen",      "Brunswick",   "Buncombe",    "Burke",
    "Cabarrus",   "Caldwell",   "Camden",      "Carteret",    "Caswell",     "Catawba",
    "Chatham",    "Cherokee",   "Chowan",      "Clay",        "Cleveland",   "Columbus",
    "Craven",     "Cumberland", "Currituck",   "Dare",        "Davidson",    "Davie",
    "Duplin",     "Durham",     "Edgecombe",   "Forsyth",     "Franklin",    "Gaston",
    "Gates",      "Graham",     "Granville",   "Greene",      "Guilford",    "Halifax",
    "Harnett",    "Haywood",    "Henderson",   "Hertford",    "Hoke",        "Hyde",
    "Iredell",    "Jackson",    "Johnston",    "Jones",       "Lee",         "Lenoir",
    "Lincoln",    "McDowell",   "Macon",       "Madison",     "Martin",      "Mecklenburg",
    "Mitchell",   "Montgomery", "Moore",       "Nash",        "New Hanover", "Northampton",
    "Onslow",     "Orange",     "Pamlico",     "Pasquotank",  "Pender",      "Perquimans",
    "Person",     "Pitt",       "Polk",        "Randolph",    "Richmond",    "Robeson",
    "Rockingham", "Rowan",      "Rutherford",  "Sampson",     "Scotland",    "Stanly",
    "Stokes",     "Surry",      "Swain",       "Transylvania", "Tyrrell",    "Union",
    "Vance",      "Wake",       "Warren",      "Washington",  "Watauga",     "Wayne",
    "Wilkes",     "Wilson",     "Yadkin",      "Yancey"};
static_assert(sizeof(kNcCounties) / sizeof(kNcCounties[0]) == 100);

constexpr int county_index(sv name) {
  for (int i = 0; i < 100; ++i)
    if (kNcCounties[i] == name) return i;
  return -1;
}

struct NcCity {
  sv city;
  sv county;
  int zip3;
  int area_code;
};
inline constexpr NcCity kNcCities[] = {
    {"Raleigh", "Wake", 276, 919},          {"Cary", "Wake", 275, 919},
    {"Apex", "Wake", 275, 984},             {"Wake Forest", "Wake", 275, 919},
    {"Durham", "Durham", 277, 919},         {"Chapel Hill", "Orange", 275, 919},
    {"Charlotte", "Mecklenburg", 282, 704}, {"Huntersville", "Mecklenburg", 280, 980},
    {"Greensboro", "Guilford", 274, 336},   {"High Point", "Guilford", 272, 336},
    {"Winston-Salem", "Forsyth", 271, 336}, {"Fayetteville", "Cumberland", 283, 910},
    {"Wilmington", "New Hanover", 284, 910}, {"Asheville", "Buncombe", 288, 828},
    {"Greenville", "Pitt", 278, 252},       {"Boone", "Watauga", 286, 828},
    {"Hickory", "Catawba", 286, 828},       {"Concord", "Cabarrus", 280, 704},
    {"Gastonia", "Gaston", 280, 704},       {"Jacksonville", "Onslow", 285, 910},
    {"Rocky Mount", "Nash", 278, 252},      {"Wilson", "Wilson", 278, 252},
    {"Goldsboro", "Wayne", 275, 919},       {"Burlington", "Alamance", 272, 336},
    {"New Bern", "Craven", 285, 252},       {"Sanford", "Lee", 273, 919},
    {"Salisbury", "Rowan", 281, 704},       {"Monroe", "Union", 281, 704},
    {"Elizabeth City", "Pasquotank", 279, 252}, {"Kinston", "Lenoir", 285, 252},
    {"Lumberton", "Robeson", 283, 910},     {"Pembroke", "Robeson", 283, 910},
    {"Morganton", "Burke", 286, 828},       {"Statesville", "Iredell", 286, 704},
    {"Shelby", "Cleveland", 281, 704},      {"Lexington", "Davidson", 272, 336},
    {"Asheboro", "Randolph", 272, 336},     {"Henderson", "Vance", 275, 252},
    {"Roanoke Rapids", "Halifax", 278, 252}, {"Hendersonville", "Henderson", 287, 828},
    {"Murphy", "Cherokee", 289, 828},       {"Manteo", "Dare", 279, 252},
    {"Clinton", "Sampson", 283, 910},       {"Smithfield", "Johnston", 275, 919},
    {"Sylva", "Jackson", 287, 828},         {"Southern Pines", "Moore", 283, 910},
    {"Tarboro", "Edgecombe", 278, 252},     {"Mount Airy", "Surry", 270, 336}};

struct OtherCity {
  sv city;
  sv state;
  int zip3;
  int area_code;
};
inline constexpr OtherCity kOtherCities[] = {
    {"Richmond", "VA", 232, 804},     {"Norfolk", "VA", 235, 757},
    {"Virginia Beach", "VA", 234, 757}, {"Columbia", "SC", 292, 803},
    {"Greenville", "SC", 296, 864},   {"Rock Hill", "SC", 297, 803},
    {"Atlanta", "GA", 303, 404},      {"Knoxville", "TN", 379, 865},
    {"New York", "NY", 100, 212},     {"Miami", "FL", 331, 305},
    {"Baltimore", "MD", 212, 410},    {"Philadelphia", "PA", 191, 215},
    {"Columbus", "OH", 432, 614},     {"Chicago", "IL", 606, 312}};

inline constexpr sv kNcAreaCodes[] = {"919", "984", "704", "980", "336", "743", "828", "910", "252"};

inline constexpr sv kRaceCodes[] = {"2106-3", "2054-5", "2028-9", "1002-5", "2076-8", "2131-1"};
// Cumulative weights per mille for kRaceCodes (White, Black, Asian, AI/AN, NH/PI, Other).
inline constexpr int kRaceWeights[] = {640, 860, 900, 920, 925, 1000};

inline constexpr sv kSites[] = {"LA", "RA", "LD", "RD", "LT", "RT", "LVL", "RVL", "LG", "RG",
                                "LLFA", "RLFA"};
inline constexpr sv kLanguages[] = {"English", "English", "English", "Spanish", "Vietnamese",
                                    "Chinese", "Arabic", "Hmong"};
inline constexpr sv kPriorityGroups[] = {"Group 1", "Group 2", "Group 3", "Group 4", "Group 5",
                                         "Health care worker", "Long-term care resident",
                                         "Age 65+"};
inline constexpr sv kLocationKinds[] = {"Pharmacy", "Drug", "Apothecary", "Health Mart",
                                        "Clinic Pharmacy", "Community Pharmacy"};
inline constexpr sv kCredentials[] = {"RPH", "PharmD", "RN", "LPN", "NP", "PA-C", "MD"};

}  // namespace vaxetl::ncvr_gen::ref
