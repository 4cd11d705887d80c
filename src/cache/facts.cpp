#include "costgate/cache/facts.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "costgate/cache/words.h"

// How the facts are found, in one pass each and without std::regex (slow, and recursive enough to
// overflow the stack on long input), so any bytes of any length take linear time:
//   1. Code spans (`x`, ```block```) become identifiers whole and are masked out of the prose.
//   2. Quoted text ("...", '...', “...”, ‘...’, «...») becomes quoted facts; its words stay in the
//      prose, so `print("hi")` is still an identifier.
//   3. The prose is cut at whitespace into chunks. A chunk that looks like code is an identifier,
//      one that mixes letters and digits is a name ("2FA", "gpt-4o") unless it is a number with a
//      unit or an ordinal ("5GB", "3rd"); the rest is lexed into words, numbers and operators.
//   4. Passes over that stream join number words ("two hundred" -> 200), attach units ("5 GB" ->
//      "5gb"), collect numbers and arithmetic ("17*23"), polarity words and capitalized names.
// Only ASCII is interpreted. Other bytes, valid UTF-8 or not, are letters of words, except the few
// punctuation marks spelled out below; nothing is decoded, so nothing can fail.

namespace costgate::cache {
namespace {

using std::size_t;
using std::string_view;
constexpr size_t npos = string_view::npos;
using Row = std::pair<string_view, string_view>;

// ---------------------------------------------------------------------------------------------
// The polarity table: words that turn a question into a different one when they appear, vanish
// or swap for their opposite. Each row maps a word (base form; inflections are found by light
// stemming, so "disabling", "disabled" and "disables" are "disable") to the fact it records.
// Opposites record different facts and synonyms the same one, so "turn on" agrees with "enable"
// but never with "disable". Where one side of a pair is everyday filler ("best way", "a new
// file", "even if", "next step") only the marked side is listed: swapping still changes the facts,
// while the filler cannot turn a paraphrase into a miss. A row with an empty fact is a word that
// stems into the table but means nothing there ("lastly", "closely", "in addition").
// Particles (on, off, in, out, up, down) are handled with their verbs in kPhrasal below; bare
// "on", "in", "out", "up" and "down" are too common to mean anything.
// clang-format off
constexpr Row kPolarity[] = {
    // Negations: any one of them makes a different question, and all record "not" (so do n't
    // contractions, "don't" and "can’t", found by their ending).
    {"not", "not"}, {"no", "not"}, {"never", "not"}, {"none", "not"}, {"nothing", "not"},
    {"nobody", "not"}, {"noone", "not"}, {"nowhere", "not"}, {"neither", "not"}, {"nor", "not"},
    {"without", "not"}, {"cannot", "not"}, {"non", "not"}, {"unable", "not"},
    {"impossible", "not"}, {"dont", "not"}, {"doesnt", "not"}, {"didnt", "not"}, {"isnt", "not"},
    {"arent", "not"}, {"wasnt", "not"}, {"werent", "not"}, {"cant", "not"}, {"couldnt", "not"},
    {"shouldnt", "not"}, {"wouldnt", "not"}, {"wont", "not"}, {"havent", "not"},
    {"hasnt", "not"}, {"hadnt", "not"}, {"mustnt", "not"}, {"aint", "not"},

    // Switches.
    {"enable", "enable"}, {"activate", "enable"},
    {"disable", "disable"}, {"deactivate", "disable"}, {"off", "disable"},  // "set it to off"
    {"allow", "allow"}, {"permit", "allow"}, {"grant", "allow"}, {"whitelist", "allow"},
    {"allowlist", "allow"},
    {"deny", "deny"}, {"forbid", "deny"}, {"prohibit", "deny"}, {"disallow", "deny"},
    {"revoke", "deny"}, {"blacklist", "deny"}, {"denylist", "deny"},
    {"block", "block"}, {"blocklist", "block"},   {"unblock", "unblock"},
    {"accept", "accept"}, {"acceptance", "accept"}, {"approve", "accept"},
    {"reject", "reject"}, {"decline", "reject"}, {"refuse", "reject"},
    {"lock", "lock"},           {"unlock", "unlock"},
    {"mute", "mute"},           {"unmute", "unmute"},
    {"show", "show"}, {"shown", "show"}, {"display", "show"}, {"reveal", "show"},
    {"unhide", "show"}, {"visible", "show"},
    {"hide", "hide"}, {"hidden", "hide"}, {"conceal", "hide"}, {"invisible", "hide"},

    // Actions and their undoing.
    {"add", "add"}, {"create", "add"}, {"insert", "add"}, {"append", "add"}, {"prepend", "add"},
    {"remove", "remove"}, {"removal", "remove"}, {"delete", "remove"}, {"erase", "remove"},
    {"drop", "remove"}, {"destroy", "remove"}, {"purge", "remove"},
    {"include", "include"}, {"inclusion", "include"},
    {"exclude", "exclude"}, {"exclusion", "exclude"},
    {"increase", "increase"}, {"increment", "increase"}, {"grow", "increase"},
    {"decrease", "decrease"}, {"decrement", "decrease"}, {"reduce", "decrease"},
    {"reduction", "decrease"}, {"shrink", "decrease"},
    {"expand", "expand"},       {"collapse", "collapse"},
    {"start", "start"}, {"startup", "start"}, {"begin", "start"}, {"began", "start"},
    {"begun", "start"}, {"launch", "start"}, {"boot", "start"},
    {"stop", "stop"}, {"halt", "stop"}, {"kill", "stop"}, {"terminate", "stop"},
    {"shut", "stop"}, {"shutdown", "stop"},
    {"pause", "pause"}, {"suspend", "pause"}, {"resume", "resume"}, {"unpause", "resume"},
    {"open", "open"},           {"close", "close"},
    {"install", "install"},     {"uninstall", "uninstall"},
    {"mount", "mount"},         {"unmount", "unmount"},       {"umount", "unmount"},
    {"connect", "connect"},     {"disconnect", "disconnect"},
    {"attach", "attach"},       {"detach", "detach"},
    {"subscribe", "subscribe"}, {"subscription", "subscribe"}, {"unsubscribe", "unsubscribe"},
    {"stage", "stage"},         {"unstage", "unstage"},
    {"undo", "undo"},           {"redo", "redo"},
    {"upgrade", "upgrade"},     {"downgrade", "downgrade"},
    {"encrypt", "encrypt"},     {"decrypt", "decrypt"},
    {"encode", "encode"},       {"decode", "decode"},
    {"compress", "compress"},   {"decompress", "decompress"},
    {"zip", "zip"},             {"unzip", "unzip"},
    {"serialize", "serialize"}, {"deserialize", "deserialize"},

    // Directions of data.
    {"import", "import"},       {"export", "export"},
    {"upload", "upload"},       {"download", "download"},
    {"push", "push"},           {"pull", "pull"},
    {"read", "read"}, {"write", "write"}, {"wrote", "write"}, {"written", "write"},
    {"send", "send"}, {"sent", "send"}, {"receive", "receive"},
    {"login", "login"}, {"logon", "login"}, {"signin", "login"},
    {"logout", "logout"}, {"logoff", "logout"}, {"signout", "logout"}, {"signup", "signup"},

    // Order and place.
    {"before", "before"},       {"after", "after"},
    {"above", "above"},         {"below", "below"},           {"beneath", "below"},
    {"ascending", "ascending"}, {"ascend", "ascending"},      {"asc", "ascending"},
    {"descending", "descending"}, {"descend", "descending"},  {"desc", "descending"},
    {"horizontal", "horizontal"}, {"vertical", "vertical"},
    {"row", "row"},             {"column", "column"},
    {"inner", "inner"},         {"outer", "outer"},
    {"inside", "inside"},       {"outside", "outside"},
    {"internal", "internal"},   {"external", "external"},
    {"forward", "forward"},     {"backward", "backward"},
    {"upper", "upper"}, {"uppercase", "upper"}, {"lowercase", "lower"},
    {"local", "local"}, {"remote", "remote"}, {"global", "global"},
    {"last", "last"}, {"latest", "last"}, {"newest", "last"},   // first is the number 1
    {"old", "old"}, {"older", "old"}, {"oldest", "old"}, {"earliest", "old"},  // new: filler
    {"previous", "previous"}, {"prev", "previous"},             // next: filler ("what next?")
    {"bottom", "bottom"},                                       // top: filler ("top 10")
    {"left", "left"},                                           // right: filler ("is it right?")

    // Amounts and comparisons.
    {"more", "more"}, {"greater", "more"}, {"larger", "more"}, {"bigger", "more"},
    {"higher", "more"}, {"longer", "more"},
    {"less", "less"}, {"fewer", "less"}, {"smaller", "less"}, {"lower", "less"},
    {"shorter", "less"},
    {"max", "max"}, {"maximum", "max"}, {"maximal", "max"}, {"maximize", "max"}, {"most", "max"},
    {"largest", "max"}, {"biggest", "max"}, {"highest", "max"}, {"longest", "max"},
    {"min", "min"}, {"minimum", "min"}, {"minimal", "min"}, {"minimize", "min"}, {"least", "min"},
    {"smallest", "min"}, {"lowest", "min"}, {"fewest", "min"}, {"shortest", "min"},
    {"fast", "fast"}, {"faster", "fast"}, {"fastest", "fast"},
    {"slow", "slow"}, {"slower", "slow"}, {"slowest", "slow"},
    {"cheap", "cheap"}, {"cheaper", "cheap"}, {"cheapest", "cheap"}, {"expensive", "expensive"},
    {"worst", "worst"}, {"worse", "worst"},                     // best, better: filler
    {"equal", "equal"},

    // Values and kinds.
    {"true", "true"},           {"false", "false"},
    {"positive", "positive"},   {"negative", "negative"},
    {"odd", "odd"},                                             // even: filler ("even if")
    {"valid", "valid"},         {"invalid", "invalid"},
    {"public", "public"},       {"private", "private"},
    {"sync", "sync"}, {"synchronous", "sync"}, {"async", "async"}, {"asynchronous", "async"},
    {"succeed", "succeed"}, {"success", "succeed"}, {"successful", "succeed"},
    {"fail", "fail"}, {"failure", "fail"},
    {"safe", "safe"},           {"unsafe", "unsafe"},
    {"secure", "secure"},       {"insecure", "insecure"},
    {"wrong", "wrong"}, {"incorrect", "wrong"},                 // correct: filler
    {"optional", "optional"},                                   // required: its unmarked twin
    {"empty", "empty"},                                         // full: filler ("full example")
    {"illegal", "illegal"},
    {"dark", "dark"},                                           // light: ambiguous

    // Words that stem into the table but mean nothing there.
    {"addition", ""},   // "in addition"
    {"including", ""},  // "languages, including Go,"
    {"closely", ""}, {"lastly", ""}, {"mostly", ""},
};
// clang-format on

// A particle after its verb: "turn it on" is "enable", "log out" is "logout", "round down" is
// "down". Bare particles are ignored (except "off"), so "enable 2FA on my account" has no "on".
struct Phrasal {
  string_view verb;
  string_view particle;
  string_view fact;
};
constexpr Phrasal kPhrasal[] = {
    {"turn", "on", "enable"},   {"turn", "off", "disable"},   {"turn", "up", "up"},
    {"turn", "down", "down"},   {"switch", "on", "enable"},   {"switch", "off", "disable"},
    {"toggle", "on", "enable"}, {"toggle", "off", "disable"}, {"flip", "on", "enable"},
    {"flip", "off", "disable"}, {"power", "on", "enable"},    {"power", "off", "disable"},
    {"log", "in", "login"},     {"log", "on", "login"},       {"log", "out", "logout"},
    {"log", "off", "logout"},   {"sign", "in", "login"},      {"sign", "on", "login"},
    {"sign", "out", "logout"},  {"sign", "off", "logout"},    {"sign", "up", "signup"},
    {"opt", "in", "in"},        {"opt", "out", "out"},        {"zoom", "in", "in"},
    {"zoom", "out", "out"},     {"scale", "up", "up"},        {"scale", "down", "down"},
    {"scale", "in", "in"},      {"scale", "out", "out"},      {"round", "up", "up"},
    {"round", "down", "down"},  {"speed", "up", "up"},        {"slow", "down", "down"},
    {"count", "up", "up"},      {"count", "down", "down"},    {"scroll", "up", "up"},
    {"scroll", "down", "down"}, {"move", "up", "up"},         {"move", "down", "down"},
    {"step", "up", "up"},       {"step", "down", "down"},
};
constexpr string_view kParticles[] = {"on", "off", "in", "out", "up", "down"};
// Verbs whose particle must follow at once or after a pronoun ("log me in"), or "log files in
// /var" would be a login; the others take it up to three words later ("turn the dark mode off",
// "round 3.5 up").
constexpr string_view kTightVerbs[] = {"log", "sign", "opt"};
constexpr string_view kObjectPronouns[] = {"it", "them", "me", "us", "him", "her", "this", "that"};
constexpr size_t kMaxParticleGap = 3;

// Number words. Cardinals combine ("two hundred and five" is 205); ordinals stand alone.
enum class NumberKind { kDigit, kTeen, kTens, kHundred, kScale, kOrdinal };
struct NumberWord {
  std::uint64_t value;
  NumberKind kind;
};
// clang-format off
constexpr std::pair<string_view, NumberWord> kNumberWords[] = {
    {"zero", {0, NumberKind::kDigit}},   {"one", {1, NumberKind::kDigit}},
    {"two", {2, NumberKind::kDigit}},    {"three", {3, NumberKind::kDigit}},
    {"four", {4, NumberKind::kDigit}},   {"five", {5, NumberKind::kDigit}},
    {"six", {6, NumberKind::kDigit}},    {"seven", {7, NumberKind::kDigit}},
    {"eight", {8, NumberKind::kDigit}},  {"nine", {9, NumberKind::kDigit}},
    {"ten", {10, NumberKind::kTeen}},    {"eleven", {11, NumberKind::kTeen}},
    {"twelve", {12, NumberKind::kTeen}}, {"thirteen", {13, NumberKind::kTeen}},
    {"fourteen", {14, NumberKind::kTeen}}, {"fifteen", {15, NumberKind::kTeen}},
    {"sixteen", {16, NumberKind::kTeen}}, {"seventeen", {17, NumberKind::kTeen}},
    {"eighteen", {18, NumberKind::kTeen}}, {"nineteen", {19, NumberKind::kTeen}},
    {"twenty", {20, NumberKind::kTens}}, {"thirty", {30, NumberKind::kTens}},
    {"forty", {40, NumberKind::kTens}},  {"fifty", {50, NumberKind::kTens}},
    {"sixty", {60, NumberKind::kTens}},  {"seventy", {70, NumberKind::kTens}},
    {"eighty", {80, NumberKind::kTens}}, {"ninety", {90, NumberKind::kTens}},
    {"hundred", {100, NumberKind::kHundred}},
    {"thousand", {1'000, NumberKind::kScale}},
    {"million", {1'000'000, NumberKind::kScale}},
    {"billion", {1'000'000'000, NumberKind::kScale}},
    {"first", {1, NumberKind::kOrdinal}},   {"second", {2, NumberKind::kOrdinal}},
    {"third", {3, NumberKind::kOrdinal}},   {"fourth", {4, NumberKind::kOrdinal}},
    {"fifth", {5, NumberKind::kOrdinal}},   {"sixth", {6, NumberKind::kOrdinal}},
    {"seventh", {7, NumberKind::kOrdinal}}, {"eighth", {8, NumberKind::kOrdinal}},
    {"ninth", {9, NumberKind::kOrdinal}},   {"tenth", {10, NumberKind::kOrdinal}},
};
// clang-format on
// "which one", "the one", "no one": a pronoun, not the number.
constexpr string_view kOneDeterminers[] = {"which", "this",  "that",  "the",     "each",  "every",
                                           "any",   "no",    "some",  "another", "other", "new",
                                           "same",  "right", "wrong", "last",    "next",  "only"};
// "a second", "per second": the unit, not the ordinal.
constexpr string_view kSecondUnitWords[] = {"a", "per", "each", "every", "one"};

// Units after a number become part of it ("5 GB", "5GB", "5 gigabytes" -> "5gb"): otherwise
// "5 MB" and "5 GB" agree. One-letter units only count attached ("5m"), never as a word.
// clang-format off
constexpr Row kUnits[] = {
    {"%", "%"}, {"percent", "%"}, {"pct", "%"}, {"k", "k"}, {"x", "x"}, {"m", "m"},
    // data
    {"kb", "kb"}, {"kilobyte", "kb"}, {"kilobytes", "kb"}, {"mb", "mb"}, {"megabyte", "mb"},
    {"megabytes", "mb"}, {"gb", "gb"}, {"gig", "gb"}, {"gigs", "gb"}, {"gigabyte", "gb"},
    {"gigabytes", "gb"}, {"tb", "tb"}, {"terabyte", "tb"}, {"terabytes", "tb"}, {"pb", "pb"},
    {"kib", "kib"}, {"mib", "mib"}, {"gib", "gib"}, {"tib", "tib"}, {"byte", "byte"},
    {"bytes", "byte"}, {"bit", "bit"}, {"bits", "bit"}, {"kbps", "kbps"}, {"mbps", "mbps"},
    {"gbps", "gbps"},
    // time
    {"ns", "ns"}, {"nanosecond", "ns"}, {"nanoseconds", "ns"}, {"us", "us"},
    {"microsecond", "us"}, {"microseconds", "us"}, {"ms", "ms"}, {"millisecond", "ms"},
    {"milliseconds", "ms"}, {"s", "s"}, {"sec", "s"}, {"secs", "s"}, {"second", "s"},
    {"seconds", "s"}, {"min", "min"}, {"mins", "min"}, {"minute", "min"}, {"minutes", "min"},
    {"h", "h"}, {"hr", "h"}, {"hrs", "h"}, {"hour", "h"}, {"hours", "h"}, {"d", "d"},
    {"day", "d"}, {"days", "d"}, {"wk", "wk"}, {"week", "wk"}, {"weeks", "wk"}, {"mo", "mo"},
    {"month", "mo"}, {"months", "mo"}, {"yr", "yr"}, {"yrs", "yr"}, {"year", "yr"},
    {"years", "yr"}, {"am", "am"}, {"pm", "pm"},
    // length, weight, screen, rates
    {"mm", "mm"}, {"cm", "cm"}, {"km", "km"}, {"meter", "m"}, {"meters", "m"}, {"metre", "m"},
    {"metres", "m"}, {"ft", "ft"}, {"foot", "ft"}, {"feet", "ft"}, {"inch", "in"},
    {"inches", "in"}, {"mi", "mi"}, {"mile", "mi"}, {"miles", "mi"}, {"kg", "kg"}, {"lb", "lb"},
    {"lbs", "lb"}, {"px", "px"}, {"em", "em"}, {"rem", "rem"}, {"pt", "pt"}, {"hz", "hz"},
    {"khz", "khz"}, {"mhz", "mhz"}, {"ghz", "ghz"}, {"fps", "fps"}, {"rpm", "rpm"},
    {"rps", "rps"}, {"qps", "qps"},
    // money
    {"usd", "usd"}, {"dollar", "usd"}, {"dollars", "usd"}, {"bucks", "usd"}, {"eur", "eur"},
    {"euro", "eur"}, {"euros", "eur"}, {"gbp", "gbp"}, {"jpy", "jpy"}, {"yen", "jpy"},
    {"cent", "cent"}, {"cents", "cent"},
};
// clang-format on
constexpr string_view kOrdinalSuffixes[] = {"st", "nd", "rd", "th"};

// Words that only look like names when capitalized: the first person, greetings, chat filler.
constexpr string_view kFirstPerson[] = {"i", "i'm", "i've", "i'll", "i'd"};
constexpr string_view kNoise[] = {
    "ok",     "okay", "fyi",  "btw",    "asap", "ps",  "tldr", "imo",  "imho",  "afaik",
    "pls",    "plz",  "thx",  "tia",    "lol",  "omg", "hi",   "hey",  "hello", "thanks",
    "please", "so",   "very", "really", "just", "all", "any",  "only", "help"};
// Function words are never names; capitalized or shouted in bulk they mark a Title Case or ALL
// CAPS text, whose capitals say nothing.
constexpr string_view kFunctionWords[] = {
    "a",  "an",  "the",  "to",   "of",   "in",   "on",  "for",  "with",  "and", "or",
    "is", "are", "do",   "does", "how",  "what", "why", "when", "where", "my",  "your",
    "it", "can", "this", "that", "from", "by",   "at",  "be",   "i'm"};
constexpr string_view kArticles[] = {"the", "a", "an"};
// A fact right after these is where something goes or what it is measured against: "convert
// Celsius to Fahrenheit" must not agree with "convert Fahrenheit to Celsius", so the destination
// is marked ("→fahrenheit"). "from" is not marked, so "from X to Y" agrees with "X to Y".
constexpr string_view kTowardWords[] = {"to", "into", "than"};
constexpr string_view kToward = "\xE2\x86\x92";  // →
constexpr string_view kAbbreviations[] = {"e.g",  "i.e", "eg",  "ie", "etc", "vs", "cf", "approx",
                                          "incl", "mr",  "mrs", "ms", "dr",  "st", "al", "fig"};

// Multi-byte punctuation (UTF-8). Everything else above 0x7F is part of a word.
constexpr string_view kLeftDouble = "\xE2\x80\x9C";    // “
constexpr string_view kRightDouble = "\xE2\x80\x9D";   // ”
constexpr string_view kLeftSingle = "\xE2\x80\x98";    // ‘
constexpr string_view kRightSingle = "\xE2\x80\x99";   // ’ (also the curly apostrophe)
constexpr string_view kLeftGuillemet = "\xC2\xAB";     // «
constexpr string_view kRightGuillemet = "\xC2\xBB";    // »
constexpr string_view kEllipsis = "\xE2\x80\xA6";      // …
constexpr string_view kInvertedQuestion = "\xC2\xBF";  // ¿
constexpr string_view kInvertedBang = "\xC2\xA1";      // ¡
constexpr string_view kBullet = "\xE2\x80\xA2";        // •
constexpr string_view kTimes = "\xC3\x97";             // ×
constexpr string_view kDivide = "\xC3\xB7";            // ÷
constexpr string_view kMinus = "\xE2\x88\x92";         // −
constexpr string_view kMiddleDot = "\xC2\xB7";         // ·
constexpr string_view kLessEqual = "\xE2\x89\xA4";     // ≤
constexpr string_view kGreaterEqual = "\xE2\x89\xA5";  // ≥
constexpr string_view kNotEqual = "\xE2\x89\xA0";      // ≠
constexpr string_view kMicroSeconds = "\xC2\xB5s";     // µs
constexpr Row kCurrencies[] = {{"$", "usd"},
                               {"\xE2\x82\xAC", "eur"},  // €
                               {"\xC2\xA3", "gbp"},      // £
                               {"\xC2\xA5", "jpy"}};     // ¥
constexpr string_view kSymbols[] = {kLeftDouble,    kRightDouble,    kLeftSingle, kRightSingle,
                                    kLeftGuillemet, kRightGuillemet, kEllipsis,   kInvertedQuestion,
                                    kInvertedBang,  kBullet,         kTimes,      kDivide,
                                    kMinus,         kMiddleDot,      kLessEqual,  kGreaterEqual,
                                    kNotEqual,      "\xE2\x82\xAC",  "\xC2\xA3",  "\xC2\xA5"};
// Operators, longest first, with the spelling they are recorded in.
// clang-format off
constexpr Row kOperators[] = {
    {"**", "^"}, {"<=", "<="}, {">=", ">="}, {"==", "=="}, {"!=", "!="},
    {kLessEqual, "<="}, {kGreaterEqual, ">="}, {kNotEqual, "!="},
    {kTimes, "*"}, {kMiddleDot, "*"}, {kDivide, "/"}, {kMinus, "-"},
    {"+", "+"}, {"-", "-"}, {"*", "*"}, {"/", "/"}, {"^", "^"}, {"%", "%"}, {"=", "="},
    {"<", "<"}, {">", ">"},
};
// clang-format on
// Spelled-out operators between numbers ("17 times 23" is "17*23").
constexpr Row kOperatorWords[] = {{"plus", "+"}, {"minus", "-"},  {"times", "*"}, {"x", "*"},
                                  {"mod", "%"},  {"modulo", "%"}, {"equals", "="}};

constexpr char kMask = '\x01';          // the bytes of a code span once it has been taken
constexpr size_t kMaxFence = 16;        // longer backtick runs are not fences (bounds the work)
constexpr size_t kMaxCallLength = 120;  // "foo(a, b)" stays one chunk up to this length

// ---------------------------------------------------------------------------------------------
// Bytes and small helpers.

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool isLower(char c) { return c >= 'a' && c <= 'z'; }
bool isAlpha(char c) { return isUpper(c) || isLower(c); }
bool isAlnum(char c) { return isAlpha(c) || isDigit(c); }
bool isHigh(char c) { return static_cast<unsigned char>(c) >= 0x80; }
bool isSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
// A byte that can end a name before "(" or "[": "f(", "a.b(", "arr[".
bool isNameByte(char c) { return isAlnum(c) || c == '_' || c == '.' || c == '>' || c == ']'; }
char toLower(char c) { return isUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(string_view s) {
  std::string out(s);
  for (char& c : out) c = toLower(c);
  return out;
}

bool startsAt(string_view s, size_t i, string_view prefix) {
  return i <= s.size() && s.substr(i).starts_with(prefix);
}

template <std::size_t N>
bool oneOf(string_view word, const string_view (&list)[N]) {
  return std::find(std::begin(list), std::end(list), word) != std::end(list);
}

template <std::size_t N>
std::optional<string_view> lookup(string_view key, const Row (&rows)[N]) {
  for (const auto& [from, to] : rows) {
    if (from == key) return to;
  }
  return std::nullopt;
}

bool hasAlpha(string_view s) { return std::any_of(s.begin(), s.end(), isAlpha); }
bool hasDigit(string_view s) { return std::any_of(s.begin(), s.end(), isDigit); }
bool allLowerLetters(string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), isLower);
}

string_view trimSpaces(string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

// The width of the multi-byte punctuation mark at s[i], 0 when there is none.
size_t symbolAt(string_view s, size_t i) {
  if (i >= s.size() || !isHigh(s[i])) return 0;
  for (string_view symbol : kSymbols) {
    if (startsAt(s, i, symbol)) return symbol.size();
  }
  return 0;
}

// The width of the whitespace at s[i], 0 when there is none. Dashes count as space, so
// "foo—bar" is two words, and so do masked code spans.
size_t spaceWidth(string_view s, size_t i) {
  auto byte = [&](size_t k) -> unsigned {
    return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u;
  };
  if (isSpace(s[i]) || s[i] == kMask) return 1;
  if (byte(i) == 0xC2 && byte(i + 1) == 0xA0) return 2;  // no-break space
  if (byte(i) == 0xE2 && byte(i + 1) == 0x80) {
    unsigned third = byte(i + 2);
    // U+2000..U+200B spaces, U+2013 and U+2014 dashes, U+202F narrow no-break space.
    if ((third >= 0x80 && third <= 0x8B) || third == 0x93 || third == 0x94 || third == 0xAF) {
      return 3;
    }
  }
  if (byte(i) == 0xE3 && byte(i + 1) == 0x80 && byte(i + 2) == 0x80) return 3;  // U+3000
  return 0;
}

void addTrimmed(string_view text, std::string prefix, std::vector<std::string>& group) {
  text = trimSpaces(text);
  if (!text.empty()) group.push_back(prefix.append(text));
}

// Whether the word before s[end] (past one article) is "to", "into" or "than".
bool towardBefore(string_view s, size_t end) {
  auto wordBefore = [&] {
    while (end > 0 && isSpace(s[end - 1])) --end;
    size_t begin = end;
    while (begin > 0 && isAlpha(s[begin - 1])) --begin;
    std::string word = lowered(s.substr(begin, end - begin));
    end = begin;
    return word;
  };
  std::string word = wordBefore();
  if (oneOf(word, kArticles)) word = wordBefore();
  return oneOf(word, kTowardWords);
}

std::string towardPrefix(string_view text, size_t at) {
  return towardBefore(text, at) ? std::string(kToward) : std::string();
}

// ---------------------------------------------------------------------------------------------
// Code spans: `x`, ``x``, ```block```. A span closes with a run of exactly as many backticks as
// opened it (CommonMark). A run length with no closer is remembered, so unmatched backticks cost
// one scan per length, not one per backtick.

size_t runLength(string_view s, size_t i, char c) {
  size_t j = i;
  while (j < s.size() && s[j] == c) ++j;
  return j - i;
}

size_t findFence(string_view s, size_t from, size_t length) {
  for (size_t i = s.find('`', from); i != npos; i = s.find('`', i + runLength(s, i, '`'))) {
    if (runLength(s, i, '`') == length) return i;
  }
  return npos;
}

void mask(std::string& masked, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    if (masked[i] != '\n') masked[i] = kMask;  // newlines still end the sentence before
  }
}

void takeCodeSpans(string_view text, std::string& masked, std::vector<std::string>& identifiers) {
  std::array<bool, kMaxFence + 1> unclosed{};
  for (size_t i = text.find('`'); i != npos;) {
    size_t run = runLength(text, i, '`');
    bool fence = run <= kMaxFence && !unclosed[run];
    size_t close = fence ? findFence(text, i + run, run) : npos;
    if (close == npos) {
      if (fence) unclosed[run] = true;
      i = text.find('`', i + run);
      continue;
    }
    addTrimmed(text.substr(i + run, close - i - run), towardPrefix(text, i), identifiers);
    mask(masked, i, close + run);
    i = text.find('`', close + run);
  }
}

// ---------------------------------------------------------------------------------------------
// Quotes. Straight quotes double as apostrophes ("don't", "users'") and inch marks, so they only
// open at the start of a word and close at its end; ’ closes only at the end of a word for the
// same reason. Single quotes stay on one line. A style with no closer after an opener has none
// after any later opener either (of the line, for one-line styles), which keeps the scan linear.

struct QuoteStyle {
  string_view open;
  string_view close;
  bool straight;  // open only after a word edge, close only before one
  bool oneLine;
};
constexpr QuoteStyle kQuoteStyles[] = {
    {"\"", "\"", true, false},
    {"'", "'", true, true},
    {kLeftDouble, kRightDouble, false, false},
    {kLeftSingle, kRightSingle, false, true},
    {kLeftGuillemet, kRightGuillemet, false, false},
};

// Text edges, whitespace and ASCII punctuation are word edges; letters, digits, other bytes and
// masked code are not.
bool isEdge(string_view s, size_t i) {
  if (i >= s.size()) return true;
  char c = s[i];
  return !isAlnum(c) && !isHigh(c) && c != kMask;
}

bool opensAt(string_view s, size_t i, const QuoteStyle& style) {
  if (!startsAt(s, i, style.open)) return false;
  if (!style.straight) return true;  // « bonjour » has spaces inside
  size_t after = i + style.open.size();
  if (after >= s.size() || isSpace(s[after])) return false;
  return i == 0 || isEdge(s, i - 1);
}

bool closesAt(string_view s, size_t j, const QuoteStyle& style) {
  if (!startsAt(s, j, style.close)) return false;
  bool straightEdge = style.straight || style.close == kRightSingle;
  return !straightEdge || (j > 0 && !isSpace(s[j - 1]) && isEdge(s, j + style.close.size()));
}

size_t findCloser(string_view s, size_t from, size_t limit, const QuoteStyle& style) {
  for (size_t j = s.find(style.close, from); j != npos && j < limit;
       j = s.find(style.close, j + 1)) {
    if (closesAt(s, j, style)) return j;
  }
  return npos;
}

void takeQuotes(string_view text, string_view masked, std::vector<std::string>& quoted) {
  std::array<size_t, std::size(kQuoteStyles)> noCloserBefore{};
  for (size_t i = 0; i < masked.size();) {
    size_t next = i + 1;
    bool mayOpen = masked[i] == '"' || masked[i] == '\'' || isHigh(masked[i]);
    for (size_t k = 0; mayOpen && k < std::size(kQuoteStyles); ++k) {
      const QuoteStyle& style = kQuoteStyles[k];
      if (i < noCloserBefore[k] || !opensAt(masked, i, style)) continue;
      size_t from = i + style.open.size();
      size_t limit =
          style.oneLine ? std::min(masked.find('\n', from), masked.size()) : masked.size();
      size_t close = findCloser(masked, from, limit, style);
      if (close == npos) {
        noCloserBefore[k] = limit;
        continue;
      }
      addTrimmed(text.substr(from, close - from), towardPrefix(text, i), quoted);
      next = close + style.close.size();
      break;
    }
    i = next;
  }
}

// ---------------------------------------------------------------------------------------------
// The prose stream.

enum class AtomKind {
  kWord,
  kNumber,
  kOperator,
  kOpen,         // (
  kClose,        // )
  kPause,        // , ;
  kSentenceEnd,  // . ? ! : or a line break
  kOther,        // a chunk taken whole (identifier, name): a word for distances, nothing else
};

struct Atom {
  AtomKind kind = AtomKind::kWord;
  std::string text;            // word as written (’ as '); number normalized; operator canonical
  std::string lower;           // a word's text lower-cased, computed once
  bool sentenceStart = false;  // a word of a sentence's first chunk: its capital says nothing
  bool hasUnit = false;        // a number with its unit already attached
};

Atom makeAtom(AtomKind kind, std::string text = {}) {
  Atom atom;
  atom.kind = kind;
  atom.text = std::move(text);
  return atom;
}

bool isWordAtom(const std::vector<Atom>& atoms, size_t i) {
  return i < atoms.size() && atoms[i].kind == AtomKind::kWord;
}

// The lower-cased word at atoms[i], or "" when it is not a word.
const std::string& wordAt(const std::vector<Atom>& atoms, size_t i) {
  static const std::string kNone;
  return isWordAtom(atoms, i) ? atoms[i].lower : kNone;
}

// Whether the atom before atoms[i] (past one article) is "to", "into" or "than".
bool towardBefore(const std::vector<Atom>& atoms, size_t i) {
  if (i == 0) return false;
  if (oneOf(wordAt(atoms, i - 1), kArticles)) {
    if (i == 1) return false;
    --i;
  }
  return oneOf(wordAt(atoms, i - 1), kTowardWords);
}

std::optional<string_view> attachedUnit(string_view letters) {
  auto unit = lookup(lowered(letters), kUnits);
  // "3D" and "5S" are names; "5K", "5M" and "10X" are amounts.
  bool capitalLetter = letters.size() == 1 && isUpper(letters[0]);
  if (capitalLetter && letters[0] != 'K' && letters[0] != 'M' && letters[0] != 'X') return {};
  return unit;
}

std::optional<string_view> currencyAt(string_view s, size_t i, size_t& width) {
  for (const auto& [symbol, unit] : kCurrencies) {
    if (startsAt(s, i, symbol)) {
      width = symbol.size();
      return unit;
    }
  }
  return std::nullopt;
}

// Lexes one chunk into words, numbers and operators. In strict mode (a chunk mixing letters and
// digits) it succeeds only for numbers with units or ordinals, versions, arithmetic and a number
// followed by lower-case hyphenated words ("5GB", "3rd", "v1.2.3", "17x23", "17-year-old");
// anything else ("2FA", "GPT-4o") fails and the caller keeps the chunk whole as a name.
class ChunkLexer {
 public:
  ChunkLexer(string_view chunk, bool strict, bool afterValue)
      : s_(chunk), strict_(strict), afterValue_(afterValue) {}

  bool run(std::vector<Atom>& out) {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (numberStarts()) {
        if (!readNumber(out)) return false;
      } else if (isAlpha(c) || (isHigh(c) && symbolAt(s_, i_) == 0)) {
        if (!readWord(out)) return false;
      } else if (!readOperator(out)) {
        readPunctuation(out);
      }
    }
    return true;
  }

 private:
  char at(size_t i) const { return i < s_.size() ? s_[i] : '\0'; }
  bool atWordEdge() const { return i_ == 0 || !isAlnum(s_[i_ - 1]); }

  bool numberStarts() const {
    char c = at(i_);
    if (isDigit(c)) return true;
    bool sign = (c == '-' || c == '+') && isDigit(at(i_ + 1));
    if (sign || (startsAt(s_, i_, kMinus) && isDigit(at(i_ + kMinus.size())))) {
      return !afterValue_ && atWordEdge();  // after a number it is an operator: 17-5
    }
    size_t width = 0;
    if (currencyAt(s_, i_, width)) return isDigit(at(i_ + width));
    return (c == 'v' || c == 'V') && isDigit(at(i_ + 1)) && atWordEdge();  // v1.2.3
  }

  bool readNumber(std::vector<Atom>& out) {
    std::string text;
    std::string unit;
    readPrefix(text, unit);
    readDigits(text);
    std::optional<std::string> suffix = readSuffix();
    if (!suffix) {
      if (strict_) return false;
    } else if (unit.empty()) {
      unit = *std::move(suffix);
    }
    Atom atom = makeAtom(AtomKind::kNumber, text + unit);
    atom.hasUnit = !unit.empty();
    out.push_back(std::move(atom));
    afterValue_ = sawNumber_ = true;
    return true;
  }

  // A sign ("+" is dropped: +5 is 5), a currency symbol (a unit: "$5" is "5usd") or a version's
  // "v" (dropped: "v1.2" is "1.2", like "version 1.2").
  void readPrefix(std::string& text, std::string& unit) {
    size_t width = 0;
    if (at(i_) == '-') {
      text = "-";
      ++i_;
    } else if (startsAt(s_, i_, kMinus)) {
      text = "-";
      i_ += kMinus.size();
    } else if (at(i_) == '+' || at(i_) == 'v' || at(i_) == 'V') {
      ++i_;
    } else if (auto currency = currencyAt(s_, i_, width)) {
      unit = *currency;
      i_ += width;
    }
  }

  // Digits, thousands separators dropped ("1,000" is 1000 but "1,2,3" three numbers), then
  // decimals, version parts and clock times kept as written ("3.11", "1.2.3", "10:30").
  void readDigits(std::string& text) {
    size_t start = i_;
    while (isDigit(at(i_))) ++i_;
    text.append(s_.substr(start, i_ - start));
    if (i_ - start <= 3) {
      while (at(i_) == ',' && isDigit(at(i_ + 1)) && isDigit(at(i_ + 2)) && isDigit(at(i_ + 3)) &&
             !isDigit(at(i_ + 4))) {
        text.append(s_.substr(i_ + 1, 3));
        i_ += 4;
      }
    }
    while ((at(i_) == '.' || at(i_) == ':') && isDigit(at(i_ + 1))) {
      text += s_[i_++];
      start = i_;
      while (isDigit(at(i_))) ++i_;
      text.append(s_.substr(start, i_ - start));
    }
  }

  // What is attached after the digits: a unit ("%", "gb", "€"), nothing (no letters, an ordinal
  // suffix, or the "x" of "17x23" which is read next as an operator), or nullopt for letters that
  // are neither ("2FA").
  std::optional<std::string> readSuffix() {
    if (at(i_) == '%' && !isDigit(at(i_ + 1))) {
      ++i_;
      return "%";
    }
    size_t width = 0;
    if (auto currency = currencyAt(s_, i_, width)) {
      i_ += width;
      return std::string(*currency);
    }
    if (startsAt(s_, i_, kMicroSeconds)) {
      i_ += kMicroSeconds.size();
      return "us";
    }
    size_t end = i_;
    while (isAlpha(at(end))) ++end;
    string_view letters = s_.substr(i_, end - i_);
    if (letters.empty() || ((letters == "x" || letters == "X") && isDigit(at(end)))) return "";
    if (oneOf(letters, kOrdinalSuffixes)) {
      i_ = end;
      return "";
    }
    if (auto unit = attachedUnit(letters)) {
      i_ = end;
      return std::string(*unit);
    }
    return std::nullopt;
  }

  // Letters, other bytes and apostrophes inside them ("don't", "can’t").
  bool readWord(std::vector<Atom>& out) {
    size_t begin = i_;
    while (i_ < s_.size()) {
      char c = s_[i_];
      bool apostrophe = c == '\'' || startsAt(s_, i_, kRightSingle);
      size_t width = c == '\'' ? 1 : kRightSingle.size();
      if (apostrophe && i_ > begin && isAlpha(at(i_ + width))) {
        i_ += width;
      } else if (isAlpha(c) || (isHigh(c) && symbolAt(s_, i_) == 0)) {
        ++i_;
      } else {
        break;
      }
    }
    string_view word = s_.substr(begin, i_ - begin);
    if ((word == "x" || word == "X") && afterValue_ && isDigit(at(i_))) {
      out.push_back(makeAtom(AtomKind::kOperator, "*"));  // 17x23
      afterValue_ = false;
      return true;
    }
    // Strict: only the lower-case words of "17-year-old".
    bool hyphenTail = sawNumber_ && begin > 0 && s_[begin - 1] == '-' && allLowerLetters(word);
    if (strict_ && !hyphenTail) return false;
    std::string text(word);
    for (size_t k = text.find(kRightSingle); k != npos; k = text.find(kRightSingle, k)) {
      text.replace(k, kRightSingle.size(), "'");
    }
    Atom atom = makeAtom(AtomKind::kWord, std::move(text));
    atom.lower = lowered(atom.text);
    out.push_back(std::move(atom));
    afterValue_ = false;
    return true;
  }

  // "-" and "/" are operators only between values ("17-5", "1/2"); between words they are
  // hyphens and slashes ("two-factor", "and/or").
  bool readOperator(std::vector<Atom>& out) {
    char c = s_[i_];
    if (!isHigh(c) && string_view("*<>=!+-/^%").find(c) == npos) return false;
    for (const auto& [surface, canonical] : kOperators) {
      if (!startsAt(s_, i_, surface)) continue;
      if (canonical == "-" || canonical == "/") {
        char next = at(i_ + surface.size());
        bool binary = afterValue_ && (next == '\0' || isDigit(next) || next == '(');
        if (!binary) return false;
      }
      out.push_back(makeAtom(AtomKind::kOperator, std::string(canonical)));
      i_ += surface.size();
      afterValue_ = false;
      return true;
    }
    return false;
  }

  void readPunctuation(std::vector<Atom>& out) {
    char c = s_[i_];
    if (c == '(' || c == ')') {
      out.push_back(makeAtom(c == '(' ? AtomKind::kOpen : AtomKind::kClose));
      afterValue_ = c == ')';
    } else if (c == ',' || c == ';') {
      out.push_back(makeAtom(AtomKind::kPause));
      afterValue_ = false;
    }
    size_t width = symbolAt(s_, i_);
    i_ += width ? width : 1;
  }

  string_view s_;
  size_t i_ = 0;
  bool strict_;
  bool afterValue_;  // the atom before is a number or ")": "-" and "/" are operators
  bool sawNumber_ = false;
};

// ---------------------------------------------------------------------------------------------
// Chunks: whitespace-separated pieces of prose, trimmed of the punctuation around them.

struct Trimmed {
  string_view core;
  bool sentenceEnd = false;  // ". ? ! : …" came off the end
  bool onlyDots = true;      // and it was dots, so "e.g." may be an abbreviation instead
  bool pause = false;        // ", ;" came off the end
};

// Brackets are kept where they belong to the chunk: "f(x)", "arr[0]", and around numbers, where
// "(17+5)*2" must keep them.
struct Brackets {
  int open[3] = {0, 0, 0};
  int close[3] = {0, 0, 0};
  static int kind(char c) {
    switch (c) {
      case '(':
      case ')':
        return 0;
      case '[':
      case ']':
        return 1;
      case '{':
      case '}':
        return 2;
      default:
        return -1;
    }
  }
};

size_t leadingPunctuation(string_view raw, size_t b, size_t e, bool keepBrackets) {
  while (b < e) {
    char c = raw[b];
    size_t width = 0;
    if (c == '"' || c == '\'' || c == '`' || c == '*' ||
        (!keepBrackets && (c == '(' || c == '[' || c == '{'))) {
      width = 1;
    } else if (c == '.' && runLength(raw, b, '.') >= 2) {
      width = runLength(raw, b, '.');  // "...and"; a single dot starts ".env"
    } else {
      for (string_view mark :
           {kLeftDouble, kLeftSingle, kLeftGuillemet, kInvertedQuestion, kInvertedBang}) {
        if (startsAt(raw, b, mark)) width = mark.size();
      }
    }
    if (width == 0) break;
    b += width;
  }
  return b;
}

Brackets countBrackets(string_view s) {
  Brackets brackets;
  for (char c : s) {
    int kind = Brackets::kind(c);
    if (kind < 0) continue;
    bool opening = c == '(' || c == '[' || c == '{';
    ++(opening ? brackets.open : brackets.close)[kind];
  }
  return brackets;
}

// The width of the closing mark ending raw[b..e) ( ” ’ » … ), 0 if there is none.
size_t closingMarkBefore(string_view raw, size_t b, size_t e, Trimmed& t) {
  for (string_view mark : {kRightDouble, kRightSingle, kRightGuillemet, kEllipsis}) {
    if (e - b < mark.size() || raw.substr(e - mark.size(), mark.size()) != mark) continue;
    if (mark == kEllipsis) {
      t.sentenceEnd = true;
      t.onlyDots = false;
    }
    return mark.size();
  }
  return 0;
}

// Cuts sentence punctuation, quotes and unbalanced closing brackets off raw[b..e); returns the
// new end and notes in t what was cut.
size_t trailingPunctuation(string_view raw, size_t b, size_t e, bool keepBrackets, Trimmed& t) {
  Brackets brackets = countBrackets(raw.substr(b, e - b));
  while (e > b) {
    char c = raw[e - 1];
    int kind = Brackets::kind(c);
    if (c == '.' || c == '?' || c == '!' || c == ':') {
      t.sentenceEnd = true;
      t.onlyDots = t.onlyDots && c == '.';
    } else if (c == ',' || c == ';') {
      t.pause = true;
    } else if (kind >= 0 && !keepBrackets && brackets.close[kind] > brackets.open[kind]) {
      --brackets.close[kind];
    } else if (c != '"' && c != '\'' && c != '`' && c != '*') {
      size_t width = closingMarkBefore(raw, b, e, t);
      if (width == 0) break;
      e -= width - 1;
    }
    --e;
  }
  return e;
}

// "Python's" is "Python": the name, not a new one.
string_view withoutPossessive(string_view core) {
  for (string_view possessive : {string_view("'s"), string_view("\xE2\x80\x99s")}) {
    size_t n = possessive.size();
    if (core.size() > n && core.ends_with(possessive) && isAlnum(core[core.size() - n - 1])) {
      return core.substr(0, core.size() - n);
    }
  }
  return core;
}

Trimmed trimChunk(string_view raw) {
  Trimmed t;
  bool keepBrackets = !hasAlpha(raw);
  size_t b = leadingPunctuation(raw, 0, raw.size(), keepBrackets);
  size_t e = trailingPunctuation(raw, b, raw.size(), keepBrackets, t);
  t.core = withoutPossessive(raw.substr(b, e - b));
  return t;
}

// "1." "2)" "-" "*" "#" at the start of a line number or mark a list, they say nothing.
bool isListMarker(string_view raw) {
  if (raw == "-" || raw == "*" || raw == "+" || raw == ">" || raw == kBullet) return true;
  if (!raw.empty() && raw.find_first_not_of('#') == npos) return true;
  size_t digits = 0;
  while (digits < raw.size() && isDigit(raw[digits])) ++digits;
  return digits >= 1 && digits <= 3 && raw.size() == digits + 1 &&
         (raw[digits] == '.' || raw[digits] == ')');
}

// "e.g.", "etc.", "vs.", "U.S." end with a dot but not a sentence.
bool isAbbreviation(string_view core) {
  if (oneOf(lowered(core), kAbbreviations)) return true;
  if (core.find('.') == npos) return false;
  for (size_t i = 0; i < core.size(); i += 2) {
    if (!isAlpha(core[i]) || (i + 1 < core.size() && core[i + 1] != '.')) return false;
  }
  return true;
}

// Comparison operators standing alone ("x >= 5"): code, kept as written.
bool isComparison(string_view core) {
  if (core == kLessEqual || core == kGreaterEqual || core == kNotEqual) return true;
  if (core.size() > 3 || core.find_first_not_of("<>=!") != npos || core == "=>") return false;
  return core.find_first_of("<>") != npos || core == "==" || core == "!=" || core == "===" ||
         core == "!==";
}

// "C++", "C#", "F#", "Notepad++": names that end in symbols.
bool isLanguageName(string_view core) {
  size_t letters = 0;
  while (letters < core.size() && isAlpha(core[letters])) ++letters;
  string_view rest = core.substr(letters);
  return letters > 0 && (rest == "++" || rest == "#");
}

// ---------------------------------------------------------------------------------------------
// What looks like code. Each test is one shape; a chunk is an identifier if any matches.

bool isUrlOrPath(string_view c) {
  if (c.find("://") != npos) return true;
  if (c[0] == '/' && c.size() > 1 && (isAlnum(c[1]) || c[1] == '.' || c[1] == '_' || c[1] == '~')) {
    return true;  // /etc/hosts
  }
  if (c.starts_with("~/") || c.starts_with("./") || c.starts_with("../")) return true;
  if (c.size() > 2 && isAlpha(c[0]) && c[1] == ':' && (c[2] == '\\' || c[2] == '/')) return true;
  // "src/", a directory named as one
  if (c.size() > 1 && c.back() == '/' && std::count(c.begin(), c.end(), '/') == 1) return true;
  // "a/b/c" and "dir\file"; one slash inside a word is prose: "and/or", "TCP/IP"
  return c.find('\\') != npos || std::count(c.begin(), c.end(), '/') >= 2;
}

bool isFlag(string_view c) {
  if (c.starts_with("--")) return c.size() > 2 && isAlnum(c[2]);
  if (c[0] != '-' || c.size() < 2 || !isAlpha(c[1])) return false;  // -f, -la, -Xmx512m
  return std::all_of(c.begin() + 1, c.end(),
                     [](char ch) { return isAlnum(ch) || ch == '-' || ch == '=' || ch == '_'; });
}

bool isSigil(string_view c) {  // $HOME, ${VAR}, @Override, #include
  if (c.size() < 2) return false;
  bool name = isAlpha(c[1]) || c[1] == '_';
  return (c[0] == '$' && (name || c[1] == '{' || c[1] == '(')) ||
         ((c[0] == '@' || c[0] == '#') && name);
}

bool hasOperatorInside(string_view c) {  // snake_case, a::b, p->x, key=value, vector<int>
  if (c.find('_') != npos || c.find("::") != npos || c.find('=') != npos) return true;
  size_t arrow = c.find("->");
  if (arrow != npos && arrow > 0 && arrow + 2 < c.size()) return true;
  size_t angle = c.find('<');
  return angle != npos && c.find('>', angle) != npos && (angle == 0 || isAlnum(c[angle - 1]));
}

bool isCallOrIndex(string_view c) {  // f(), foo(bar), os.path.join(a, b), arr[0]
  for (size_t k = 1; k < c.size(); ++k) {
    if ((c[k] != '(' && c[k] != '[') || !isNameByte(c[k - 1])) continue;
    string_view rest = c.substr(k);
    if (rest != "(s)" && rest != "(es)") return true;  // "file(s)" is prose
  }
  return false;
}

// os.path.join, config.yaml, Node.js, .env; not "e.g", "3.11" or "v1.2" (numbers).
bool isDotted(string_view c) {
  if (c[0] == '.') return c.size() > 1 && isAlpha(c[1]);
  bool longSegment = false;  // "e.g" and "U.S" are all one-letter segments
  size_t segment = 0;
  bool dotBeforeLetter = false;
  for (size_t k = 0; k < c.size(); ++k) {
    if (c[k] != '.') {
      if (++segment > 1) longSegment = true;
      continue;
    }
    segment = 0;
    char before = k > 0 ? c[k - 1] : '\0';
    char after = k + 1 < c.size() ? c[k + 1] : '\0';
    bool nameBefore = isAlnum(before) || before == '_' || before == ')' || before == ']';
    dotBeforeLetter = dotBeforeLetter || (nameBefore && (isAlpha(after) || after == '_'));
  }
  return dotBeforeLetter && longSegment;
}

// camelCase (getUserName, useState, macOS) and PascalCase with an inner word (HttpClient,
// JSONParser, GitHub). "iPhone", "OpenAI", "PostgreSQL" and "APIs" are names, not code.
bool isCamelCase(string_view c) {
  if (!std::all_of(c.begin(), c.end(), isAlnum)) return false;
  if (c.size() >= 3 && isLower(c[0]) && isLower(c[1])) {
    return std::any_of(c.begin() + 2, c.end(), isUpper);
  }
  if (!isUpper(c[0])) return false;
  for (size_t k = 2; k + 2 < c.size(); ++k) {
    if (isUpper(c[k]) && isLower(c[k + 1]) && isLower(c[k + 2])) return true;
  }
  return false;
}

bool looksLikeCode(string_view c) {
  if (!hasAlpha(c)) return false;
  return isUrlOrPath(c) || isFlag(c) || isSigil(c) || hasOperatorInside(c) || isCallOrIndex(c) ||
         isDotted(c) || isCamelCase(c);
}

// ---------------------------------------------------------------------------------------------
// The scanner: chunks in, atoms out; identifiers and whole-chunk names go straight to the facts.

class ProseScanner {
 public:
  ProseScanner(string_view prose, Facts& facts) : prose_(prose), facts_(facts) {}

  std::vector<Atom> scan() {
    for (size_t i = 0; i < prose_.size();) {
      if (size_t width = spaceWidth(prose_, i)) {
        if (prose_[i] == '\n') {
          endSentence();
          lineStart_ = true;
        }
        i += width;
        continue;
      }
      size_t end = chunkEnd(i);
      takeChunk(prose_.substr(i, end - i));
      i = end;
    }
    return std::move(atoms_);
  }

 private:
  // A chunk ends at whitespace, except inside a call's parentheses: "foo(a, b)" is one chunk.
  size_t chunkEnd(size_t begin) const {
    size_t j = begin;
    while (j < prose_.size() && spaceWidth(prose_, j) == 0) {
      if (prose_[j] == '(' && j > begin && isNameByte(prose_[j - 1])) {
        if (size_t close = matchingParen(j); close != npos) {
          j = close + 1;
          continue;
        }
      }
      ++j;
    }
    return j;
  }

  size_t matchingParen(size_t open) const {
    int depth = 0;
    size_t limit = std::min(prose_.size(), open + kMaxCallLength);
    for (size_t k = open; k < limit; ++k) {
      char c = prose_[k];
      if (c == '\n' || c == kMask) return npos;
      depth += c == '(' ? 1 : c == ')' ? -1 : 0;
      if (depth == 0) return k;
    }
    return npos;
  }

  void takeChunk(string_view raw) {
    if (lineStart_ && isListMarker(raw)) return;
    Trimmed t = trimChunk(raw);
    bool content = t.core.empty() ? lex(raw, false).value_or(false) : classify(t.core);
    if (content) sentenceStart_ = lineStart_ = false;
    if (t.sentenceEnd && !(t.onlyDots && isAbbreviation(t.core))) {
      endSentence();
    } else if (t.pause) {
      atoms_.push_back(makeAtom(AtomKind::kPause));
    }
  }

  // Returns whether the chunk had content (words, numbers, names), as opposed to punctuation.
  bool classify(string_view core) {
    if (isComparison(core)) {
      facts_.identifiers.emplace_back(core);
      lex(core, false);  // also an operator, for "5 >= 3"
      return false;
    }
    if (isLanguageName(core)) return addWhole(facts_.entities, lowered(core));
    if (looksLikeCode(core)) return addWhole(facts_.identifiers, std::string(core));
    if (hasAlpha(core) && hasDigit(core)) {
      if (lex(core, true)) return true;
      return addWhole(facts_.entities, lowered(core));  // 2FA, S3, GPT-4o, x86
    }
    return lex(core, false).value_or(false);
  }

  bool addWhole(std::vector<std::string>& group, std::string fact) {
    if (towardBefore(atoms_, atoms_.size())) fact.insert(0, kToward);
    group.push_back(std::move(fact));
    atoms_.push_back(makeAtom(AtomKind::kOther));
    return true;
  }

  // Lexes a chunk onto the stream: nullopt if strict lexing failed, else whether it had content.
  std::optional<bool> lex(string_view chunk, bool strict) {
    std::vector<Atom> atoms;
    bool afterValue = !atoms_.empty() && (atoms_.back().kind == AtomKind::kNumber ||
                                          atoms_.back().kind == AtomKind::kClose);
    if (!ChunkLexer(chunk, strict, afterValue).run(atoms)) return std::nullopt;
    bool content = false;
    for (Atom& atom : atoms) {
      content = content || atom.kind == AtomKind::kWord || atom.kind == AtomKind::kNumber;
      atom.sentenceStart = sentenceStart_ && atom.kind == AtomKind::kWord;
      atoms_.push_back(std::move(atom));
    }
    return content;
  }

  void endSentence() {
    if (!atoms_.empty() && atoms_.back().kind != AtomKind::kSentenceEnd) {
      atoms_.push_back(makeAtom(AtomKind::kSentenceEnd));
    }
    sentenceStart_ = true;
  }

  string_view prose_;
  Facts& facts_;
  std::vector<Atom> atoms_;
  bool sentenceStart_ = true;
  bool lineStart_ = true;
};

// ---------------------------------------------------------------------------------------------
// Number words: "two hundred and five" -> 205, "first" -> 1.

std::optional<NumberWord> numberWord(string_view word) {
  static const std::unordered_map<string_view, NumberWord> words(std::begin(kNumberWords),
                                                                 std::end(kNumberWords));
  auto it = words.find(word);
  return it == words.end() ? std::nullopt : std::optional<NumberWord>(it->second);
}

// Reads cardinal number words in the order English writes them; a word that cannot continue the
// number starts the next one ("one two three" is 1, 2, 3). Scales only decrease within a number,
// so the value stays far below 2^64.
class CardinalReader {
 public:
  bool accepts(NumberWord w) const {
    using K = NumberKind;
    switch (w.kind) {
      case K::kDigit:
        return last_ == K::kTens || last_ == K::kHundred || last_ == K::kScale;
      case K::kTeen:
      case K::kTens:
        return last_ == K::kHundred || last_ == K::kScale;
      case K::kHundred:
        return last_ == K::kDigit || last_ == K::kTeen;
      case K::kScale:
        return last_ != K::kScale && (lastScale_ == 0 || w.value < lastScale_);
      case K::kOrdinal:
        return false;
    }
    return false;
  }
  bool acceptsAnd() const { return last_ == NumberKind::kHundred || last_ == NumberKind::kScale; }

  void add(NumberWord w) {
    switch (w.kind) {
      case NumberKind::kHundred:
        current_ = std::max<std::uint64_t>(current_, 1) * 100;
        break;
      case NumberKind::kScale:
        total_ += std::max<std::uint64_t>(current_, 1) * w.value;
        current_ = 0;
        lastScale_ = w.value;
        break;
      default:
        current_ += w.value;
    }
    last_ = w.kind;
  }
  std::uint64_t value() const { return total_ + current_; }

 private:
  std::uint64_t total_ = 0;
  std::uint64_t current_ = 0;
  std::uint64_t lastScale_ = 0;
  NumberKind last_ = NumberKind::kOrdinal;  // nothing yet
};

struct NumberRun {
  std::uint64_t value;
  size_t end;
};

std::optional<NumberRun> readNumberWords(const std::vector<Atom>& in, size_t i,
                                         const std::vector<Atom>& done) {
  const std::string& word = wordAt(in, i);
  std::optional<NumberWord> first = numberWord(word);
  if (!first) return std::nullopt;
  const std::string& before = wordAt(done, done.empty() ? 0 : done.size() - 1);  // "" if none
  if (first->kind == NumberKind::kOrdinal) {
    bool unit = word == "second" && ((!done.empty() && done.back().kind == AtomKind::kNumber) ||
                                     oneOf(before, kSecondUnitWords));
    if (unit) return std::nullopt;
    return NumberRun{first->value, i + 1};
  }
  CardinalReader reader;
  reader.add(*first);
  size_t end = i + 1;
  for (;;) {
    size_t next = end;
    if (wordAt(in, next) == "and" && reader.acceptsAnd()) ++next;
    std::optional<NumberWord> w = numberWord(wordAt(in, next));
    if (!w || !reader.accepts(*w)) break;
    reader.add(*w);
    end = next + 1;
  }
  bool afterNumber = !done.empty() && done.back().kind == AtomKind::kNumber;  // "the 10th one"
  bool pronoun = word == "one" && end == i + 1 &&
                 (afterNumber || oneOf(before, kOneDeterminers) || wordAt(in, i + 1) == "another");
  if (pronoun) return std::nullopt;
  return NumberRun{reader.value(), end};
}

std::vector<Atom> joinNumberWords(std::vector<Atom> in) {
  std::vector<Atom> out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    if (auto run = readNumberWords(in, i, out)) {
      out.push_back(makeAtom(AtomKind::kNumber, std::to_string(run->value)));
      i = run->end;
    } else {
      out.push_back(std::move(in[i++]));
    }
  }
  return out;
}

// "5 GB" -> "5gb", "50 %" -> "50%", "two hours" -> "2h". One-letter units only count attached.
std::vector<Atom> attachUnits(std::vector<Atom> in) {
  std::vector<Atom> out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    out.push_back(std::move(in[i]));
    Atom& number = out.back();
    if (number.kind != AtomKind::kNumber || number.hasUnit || i + 1 >= in.size()) continue;
    const Atom& next = in[i + 1];
    std::optional<string_view> unit;
    if (next.kind == AtomKind::kWord && next.text.size() >= 2) {
      unit = lookup(lowered(next.text), kUnits);
    } else if (next.kind == AtomKind::kOperator && next.text == "%") {
      bool modulo = i + 2 < in.size() && in[i + 2].kind == AtomKind::kNumber;
      if (!modulo) unit = "%";
    }
    if (!unit) continue;
    number.text += *unit;
    number.hasUnit = true;
    ++i;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Numbers and arithmetic: "What is 17*23?" records 17, 23 and "17*23", so "17*24", "23*17" and
// "17+23" all differ. Spelled-out operators count ("17 times 23").

struct OperatorMatch {
  std::string text;
  size_t width;
};

std::optional<OperatorMatch> operatorAt(const std::vector<Atom>& atoms, size_t i) {
  if (i >= atoms.size()) return std::nullopt;
  if (atoms[i].kind == AtomKind::kOperator) return OperatorMatch{atoms[i].text, 1};
  const std::string& word = wordAt(atoms, i);
  if (auto op = lookup(word, kOperatorWords)) return OperatorMatch{std::string(*op), 1};
  if ((word == "multiplied" || word == "divided") && wordAt(atoms, i + 1) == "by") {
    return OperatorMatch{word == "multiplied" ? "*" : "/", 2};
  }
  return std::nullopt;
}

// An operand: "(" * number ")" *. Appends it and advances i when there is one.
bool readOperand(const std::vector<Atom>& atoms, size_t& i, std::string& expression) {
  size_t k = i;
  std::string part;
  for (; k < atoms.size() && atoms[k].kind == AtomKind::kOpen; ++k) part += '(';
  if (k >= atoms.size() || atoms[k].kind != AtomKind::kNumber) return false;
  part += atoms[k++].text;
  for (; k < atoms.size() && atoms[k].kind == AtomKind::kClose; ++k) part += ')';
  expression += part;
  i = k;
  return true;
}

// Reads the expression starting at atoms[i], if any; returns where to continue (past a run of
// "(" that leads to no number, so "((((" is read once, not once per bracket).
size_t takeExpression(const std::vector<Atom>& atoms, size_t i, std::vector<std::string>& out) {
  std::string expression;
  size_t k = i;
  if (!readOperand(atoms, k, expression)) {
    while (k < atoms.size() && atoms[k].kind == AtomKind::kOpen) ++k;
    return std::max(k, i + 1);
  }
  size_t operators = 0;
  for (;;) {
    auto op = operatorAt(atoms, k);
    if (!op) break;
    size_t after = k + op->width;
    std::string operand;
    if (!readOperand(atoms, after, operand)) break;
    expression += op->text + operand;
    k = after;
    ++operators;
  }
  if (operators > 0) out.push_back(std::move(expression));
  return k;
}

void collectNumbers(const std::vector<Atom>& atoms, std::vector<std::string>& numbers) {
  for (size_t i = 0; i < atoms.size(); ++i) {
    if (atoms[i].kind != AtomKind::kNumber) continue;
    numbers.push_back(towardBefore(atoms, i) ? std::string(kToward) + atoms[i].text
                                             : atoms[i].text);
  }
  for (size_t i = 0; i < atoms.size();) i = takeExpression(atoms, i, numbers);
}

// ---------------------------------------------------------------------------------------------
// Polarity.

using Table = std::unordered_map<string_view, string_view>;

const Table& polarityTable() {
  static const Table table(std::begin(kPolarity), std::end(kPolarity));
  return table;
}

bool isNegation(const std::string& word) {
  if (word.size() > 3 && word.ends_with("n't")) return true;  // don't, can't (’ read as ')
  auto it = polarityTable().find(word);
  return it != polarityTable().end() && it->second == "not";
}

bool endsWithDoubled(const std::string& s) {
  size_t n = s.size();
  return n >= 2 && s[n - 1] == s[n - 2] && isAlpha(s[n - 1]);
}

// Candidate base forms of an inflected word, most likely first: "disabling" -> "disabl",
// "disable"; "stopped" -> "stopp", "stop"; "denies" -> "deny". With derivations also "-ly" and
// "-ion" ("horizontally", "deletion"); never for verbs of particles, or "options in" would be
// "opt in".
std::vector<std::string> baseForms(const std::string& w, bool derivations) {
  std::vector<std::string> out;
  auto strip = [&](string_view suffix) -> std::optional<std::string> {
    if (w.size() < suffix.size() + 2 || !w.ends_with(suffix)) return std::nullopt;
    return w.substr(0, w.size() - suffix.size());
  };
  auto addStem = [&](const std::string& base) {
    out.push_back(base);
    out.push_back(base + "e");
    if (endsWithDoubled(base)) out.push_back(base.substr(0, base.size() - 1));
  };
  if (auto b = strip("ies")) out.push_back(*b + "y");
  if (auto b = strip("ied")) out.push_back(*b + "y");
  if (auto b = strip("ing")) addStem(*b);
  if (auto b = strip("ed")) addStem(*b);
  if (auto b = strip("es")) out.push_back(*b);
  if (auto b = strip("s")) out.push_back(*b);
  if (!derivations) return out;
  if (auto b = strip("ly")) out.push_back(*b);
  if (auto b = strip("ation")) out.push_back(*b);
  if (auto b = strip("ions")) addStem(*b);
  if (auto b = strip("ion")) addStem(*b);
  return out;
}

std::optional<string_view> polarityOf(const std::string& word) {
  const Table& table = polarityTable();
  auto found = [](string_view fact) {
    return fact.empty() ? std::nullopt : std::optional<string_view>(fact);
  };
  if (auto it = table.find(word); it != table.end()) return found(it->second);
  for (const std::string& base : baseForms(word, true)) {
    auto it = table.find(base);
    if (it != table.end() && it->second != "not") return found(it->second);  // "nos" is no "no"
  }
  return std::nullopt;
}

// The verb a particle belongs to, if the word is one of its forms, and the fact they make.
std::optional<Phrasal> phrasalOf(const std::string& word, string_view particle) {
  std::vector<std::string> forms = baseForms(word, false);
  forms.insert(forms.begin(), word);
  for (const std::string& form : forms) {
    for (const Phrasal& p : kPhrasal) {
      if (p.verb == form && p.particle == particle) return p;
    }
  }
  return std::nullopt;
}

// A particle's fact: the nearest verb before it in the sentence decides; "off" alone is still
// "disable" ("set it to off").
std::optional<string_view> particleFact(const std::vector<Atom>& atoms, size_t p,
                                        string_view particle) {
  size_t gap = 0;
  for (size_t k = p; k-- > 0 && gap <= kMaxParticleGap; ++gap) {
    AtomKind kind = atoms[k].kind;
    if (kind != AtomKind::kWord && kind != AtomKind::kOther && kind != AtomKind::kNumber) break;
    if (kind != AtomKind::kWord) continue;
    auto phrasal = phrasalOf(atoms[k].lower, particle);
    if (!phrasal) continue;
    bool near = gap == 0 || (gap == 1 && oneOf(wordAt(atoms, p - 1), kObjectPronouns));
    if (near || !oneOf(phrasal->verb, kTightVerbs)) return phrasal->fact;
    break;
  }
  return particle == "off" ? std::optional<string_view>("disable") : std::nullopt;
}

std::optional<string_view> polarityAt(const std::vector<Atom>& atoms, size_t i,
                                      const std::string& word) {
  if (isNegation(word)) return "not";
  if (oneOf(word, kParticles)) return particleFact(atoms, i, word);
  if (word == "show" && (wordAt(atoms, i + 1) == "me" || wordAt(atoms, i + 1) == "us")) {
    return std::nullopt;  // "show me how to" is a way of asking
  }
  return polarityOf(word);
}

// ---------------------------------------------------------------------------------------------
// Names.

struct Modes {
  bool titleCase = false;  // "How To Enable 2FA": capitals mark nothing
  bool shouting = false;   // "HOW DO I ENABLE 2FA": neither do all-caps words
};

bool allCaps(string_view word) {
  size_t letters = 0;
  for (char c : word) {
    if (isLower(c)) return false;
    letters += isUpper(c) ? 1 : 0;
  }
  return letters >= 2;
}

Modes modesOf(const std::vector<Atom>& atoms) {
  int title = 0;
  int shout = 0;
  for (const Atom& atom : atoms) {
    if (atom.kind != AtomKind::kWord || !oneOf(atom.lower, kFunctionWords)) continue;
    if (allCaps(atom.text)) {
      ++shout;
    } else if (isUpper(atom.text[0]) && !atom.sentenceStart) {
      ++title;
    }
  }
  return {title >= 2, shout >= 2};
}

// A capitalized word inside a sentence, an acronym ("AWS", plural "APIs" -> "api") or a word with
// a capital inside ("iPhone", "OpenAI"), lower-cased. A sentence's first word is a name only in
// the last two shapes: "Paris is..." loses Paris, so that "How do I" and "how do i" agree.
std::optional<std::string> entityOf(const Atom& atom, const std::string& word, Modes modes) {
  string_view w = atom.text;
  if (!isAlpha(w[0]) || oneOf(word, kFirstPerson) || oneOf(word, kNoise) || isNegation(word)) {
    return std::nullopt;
  }
  if (allCaps(w)) {
    if (modes.shouting || oneOf(word, kFunctionWords)) return std::nullopt;
    return word;
  }
  if (w.size() >= 3 && w.back() == 's' && allCaps(w.substr(0, w.size() - 1))) {
    if (modes.shouting) return std::nullopt;
    return word.substr(0, word.size() - 1);
  }
  if (std::any_of(w.begin() + 1, w.end(), isUpper)) return word;
  if (isUpper(w[0]) && !atom.sentenceStart && !modes.titleCase) return word;
  return std::nullopt;
}

void collectWords(const std::vector<Atom>& atoms, Facts& facts) {
  Modes modes = modesOf(atoms);
  for (size_t i = 0; i < atoms.size(); ++i) {
    if (atoms[i].kind != AtomKind::kWord) continue;
    const std::string& word = atoms[i].lower;
    if (auto fact = polarityAt(atoms, i, word)) facts.polarity.emplace_back(*fact);
    if (auto entity = entityOf(atoms[i], word, modes)) {
      if (towardBefore(atoms, i)) entity->insert(0, kToward);
      facts.entities.push_back(*std::move(entity));
    }
  }
}

void sortUnique(std::vector<std::string>& group) {
  std::sort(group.begin(), group.end());
  group.erase(std::unique(group.begin(), group.end()), group.end());
}

}  // namespace

namespace {

constexpr std::string_view kDirectionWords[] = {"to", "from", "into", "onto"};

// Words too common to stand for either end of a direction.
bool isFunctionWord(std::string_view word) {
  static constexpr std::string_view kWords[] = {
      "the",   "and",  "for",   "with",   "how",    "what",  "which", "who",   "why",  "when",
      "where", "can",  "could", "would",  "should", "does",  "did",   "are",   "was",  "were",
      "you",   "your", "our",   "this",   "that",   "these", "those", "there", "then", "but",
      "not",   "any",  "some",  "please", "tell",   "its",   "way",   "get",   "use",  "using",
      "all",   "one",  "out",   "way",    "want",   "need",  "like",  "have",  "has",  "had"};
  return word.size() < 3 ||
         std::find(std::begin(kWords), std::end(kWords), word) != std::end(kWords);
}

bool isDirectionWord(std::string_view word) {
  return std::find(std::begin(kDirectionWords), std::end(kDirectionWords), word) !=
         std::end(kDirectionWords);
}

std::vector<std::string> directionsOf(string_view text) {
  std::vector<std::string> words = lowerCaseWords(text);
  // The nearest meaningful word before and after each word, found in one pass each way: walking
  // out from every direction word instead is quadratic on "to the to the ...".
  auto skipped = [&](std::size_t k) {
    return isFunctionWord(words[k]) || isDirectionWord(words[k]);
  };
  std::vector<std::size_t> before(words.size(), npos);
  std::vector<std::size_t> after(words.size(), npos);
  for (std::size_t k = 1; k < words.size(); ++k) {
    before[k] = skipped(k - 1) ? before[k - 1] : k - 1;
  }
  for (std::size_t k = words.size(); k-- > 1;) {
    after[k - 1] = skipped(k) ? after[k] : k;
  }
  std::vector<std::string> directions;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (!isDirectionWord(words[i]) || before[i] == npos || after[i] == npos) continue;
    directions.push_back(words[before[i]] + "|" + words[i] + "|" + words[after[i]]);
  }
  sortUnique(directions);
  return directions;
}

// Whether some direction of `a` goes the other way in `b`.
bool reversed(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const std::string& direction : a) {
    std::size_t first = direction.find('|');
    std::size_t second = direction.find('|', first + 1);
    std::string back = direction.substr(second + 1) + direction.substr(first, second - first + 1) +
                       direction.substr(0, first);
    if (std::binary_search(b.begin(), b.end(), back)) return true;
  }
  return false;
}

}  // namespace

Facts factsOf(string_view text) {
  Facts facts;
  std::string masked(text);
  takeCodeSpans(text, masked, facts.identifiers);
  takeQuotes(text, masked, facts.quoted);
  std::vector<Atom> atoms = ProseScanner(masked, facts).scan();
  atoms = attachUnits(joinNumberWords(std::move(atoms)));
  collectNumbers(atoms, facts.numbers);
  collectWords(atoms, facts);
  for (auto* group :
       {&facts.numbers, &facts.polarity, &facts.entities, &facts.identifiers, &facts.quoted}) {
    sortUnique(*group);
  }
  facts.directions = directionsOf(text);
  return facts;
}

bool factsAgree(const Facts& asked, const Facts& cached) {
  return asked.numbers == cached.numbers && asked.polarity == cached.polarity &&
         asked.entities == cached.entities && asked.identifiers == cached.identifiers &&
         asked.quoted == cached.quoted && !reversed(asked.directions, cached.directions);
}

}  // namespace costgate::cache
