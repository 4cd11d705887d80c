#include "costgate/cache/facts/phrases.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "costgate/cache/facts.h"

namespace costgate::cache {
namespace {

using Group = std::vector<std::string>;

bool agree(const char* cached, const char* asked) {
  return factsAgree(factsOf(asked), factsOf(cached));
}

TEST(FactsSubjects, WhoTheQuestionIsAboutIsAFact) {
  const char* asker = "How many tablets of 200 mg ibuprofen can I take per day?";
  EXPECT_FALSE(agree(asker, "How many tablets of 200 mg ibuprofen can my dog take per day?"));
  EXPECT_FALSE(agree(asker, "How many tablets of 200 mg ibuprofen can a child take per day?"));
  EXPECT_FALSE(agree(asker, "how many 200mg ibuprofen tablets can my pregnant wife take a day"));
  EXPECT_FALSE(agree("Is chocolate safe for dogs?", "Is chocolate safe for cats?"));
  EXPECT_FALSE(agree("What is the dose for adults?", "What is the dose for children?"));
  EXPECT_FALSE(
      agree("Am I eligible for parental leave?", "Is my partner eligible for parental leave?"));
  EXPECT_FALSE(agree("Can I take antihistamines before driving?",
                     "Can a bus driver take antihistamines before driving?"));
  EXPECT_EQ(factsOf("Can my puppy eat grapes? My dog's vet said no").subjects, Group{"dog"});
  EXPECT_EQ(factsOf("How much water should my kids and my guinea pig drink?").subjects,
            (Group{"child", "guinea-pig"}));
  EXPECT_TRUE(factsOf("How much water should I drink?").subjects.empty());
}

TEST(FactsSubjects, KindsAreCoarseSoParaphrasesStillAgree) {
  EXPECT_TRUE(agree("Can my son take ibuprofen?", "Can my daughter take ibuprofen?"));
  EXPECT_TRUE(agree("Can puppies eat grapes?", "Can my dog eat grapes?"));
  EXPECT_TRUE(agree("Is it safe during pregnancy?", "Is it safe when pregnant?"));
}

TEST(FactsUnits, WeightsAndVolumesAreUnitsSpacedOrNot) {
  EXPECT_EQ(factsOf("200 mg or 200 milligrams or 200mg").numbers, Group{"200mg"});
  EXPECT_EQ(factsOf("a 200 g bar, 2 l of water").numbers, (Group{"200g", "2l"}));
  EXPECT_FALSE(agree("How many tablets of 200 mg ibuprofen can I take?",
                     "How many tablets of 200 g ibuprofen can I take?"));
  EXPECT_FALSE(agree("How much is 5 ml of syrup?", "How much is 5 tsp of syrup?"));
  EXPECT_TRUE(
      agree("Is 500 mg of vitamin C too much?", "Is 500 milligrams of vitamin C too much?"));
}

TEST(FactsUnits, AreasAndVolumesKeepTheirUnit) {
  EXPECT_EQ(factsOf("a room of 20 square meters").numbers, Group{"20square.m"});
  EXPECT_FALSE(agree("Is a room of 20 square meters big enough for two?",
                     "Is a room of 20 square feet big enough for two?"));
  EXPECT_TRUE(agree("Is 20 square meters enough?", "Is 20 square metres enough?"));
}

TEST(FactsPolarity, RisingFallingAndOtherLanguagesSwitches) {
  EXPECT_FALSE(agree("Why did my credit score go up?", "Why did my credit score go down?"));
  EXPECT_FALSE(agree("Why is my stock price rising?", "Why is my stock price falling?"));
  EXPECT_FALSE(agree("Which features are available on the free tier?",
                     "Which features are unavailable on the free tier?"));
  EXPECT_FALSE(agree("Wie installiere ich Python unter Windows?",
                     "Wie deinstalliere ich Python unter Windows?"));
  EXPECT_FALSE(
      agree("Kann ich meine Bestellung ändern?", "Kann ich meine Bestellung nicht ändern?"));
  EXPECT_FALSE(agree("Comment activer la double authentification ?",
                     "Comment désactiver la double authentification ?"));
}

TEST(FactsRates, PerWhatAnAmountCountsIsAFact) {
  EXPECT_EQ(factsOf("200 mg per day, twice a day, daily").numbers, (Group{"200mg", "per-day"}));
  EXPECT_FALSE(
      agree("How much water should I drink per day?", "How much water should I drink per hour?"));
  EXPECT_FALSE(agree("Is it $10 a month?", "Is it $10 a year?"));
  EXPECT_TRUE(agree("How much caffeine is safe per day?", "How much caffeine is safe daily?"));
  EXPECT_TRUE(agree("Is the yearly plan cheaper?", "Is the annual plan cheaper?"));
}

TEST(FactsNamedThings, ListedNamesCountHoweverTheyAreWritten) {
  EXPECT_EQ(factsOf("how do i sort a list in python").entities, Group{"python"});
  EXPECT_FALSE(agree("how do i sort a list in python", "how do i sort a list in rust"));
  EXPECT_FALSE(agree("what is the capital of canada", "what is the capital of mexico"));
  EXPECT_FALSE(agree("how do i upgrade to the premium plan", "how do i upgrade to the basic plan"));
  EXPECT_FALSE(agree("translate hello into french", "translate hello into german"));
  // Aliases and phrases are one name: the longest phrase wins.
  EXPECT_EQ(factsOf("flights from nyc").entities, Group{"new-york"});
  EXPECT_EQ(factsOf("Flights from New York City").entities, Group{"new-york"});
  EXPECT_TRUE(agree("Do I need a visa for the USA?", "do i need a visa for the united states"));
  // People of a country are another fact than the country.
  EXPECT_FALSE(agree("Do Canadians need a visa?", "Do I need a visa for Canada?"));
}

TEST(FactsTimes, WhenAQuestionIsAboutIsAFactHoweverItIsWritten) {
  EXPECT_FALSE(
      agree("What time does the pool open on monday", "What time does the pool open on sunday"));
  EXPECT_FALSE(agree("Will it rain tomorrow?", "Will it rain today?"));
  EXPECT_FALSE(agree("Is the gym busy in the morning?", "Is the gym busy in the evening?"));
  EXPECT_TRUE(agree("Is the store open on Mondays?", "is the store open on monday"));
  // A greeting is not a time.
  EXPECT_TRUE(agree("Good morning! How do I change my seat?", "How do I change my seat?"));
}

TEST(FactsNamedThings, DirectionsBetweenNamedThingsAreKept) {
  EXPECT_FALSE(agree("how long is the flight from berlin to paris",
                     "how long is the flight from paris to berlin"));
  EXPECT_FALSE(agree("convert 100 usd to eur", "convert 100 eur to usd"));
  EXPECT_TRUE(agree("Convert 100 USD to EUR", "convert 100 usd into eur"));
  EXPECT_FALSE(agree("how do i convert kg to lbs", "how do i convert lbs to kg"));
  EXPECT_FALSE(agree("Can I switch from the annual plan to the monthly plan?",
                     "Can I switch from the monthly plan to the annual plan?"));
  EXPECT_TRUE(agree("How do I get from the airport to downtown?",
                    "How do I get to downtown from the airport?"));
}

}  // namespace
}  // namespace costgate::cache
