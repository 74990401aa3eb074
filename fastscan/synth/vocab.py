"""The synthetic log's vocabularies: topics, forms, names, wrappers and sentence parts (no text is
copied from anywhere)."""

from __future__ import annotations

# Word lists stay a few words to a line: one item a line would spread them over 1,000 lines.
# fmt: off
TOPICS = (
    "photosynthesis", "the French Revolution", "compound interest", "binary search", "climate change",
    "the water cycle", "machine learning", "supply and demand", "the Roman Empire", "quantum entanglement",
    "sourdough bread", "public key cryptography", "the immune system", "plate tectonics", "inflation",
    "the stock market", "black holes", "renewable energy", "the human heart", "neural networks",
    "the Cold War", "impressionist painting", "vaccines", "blockchains", "the Pythagorean theorem",
    "recursion", "database indexing", "the Renaissance", "volcanoes", "sleep hygiene", "time management",
    "the electoral college", "Shakespeare's sonnets", "the theory of evolution", "container orchestration",
    "REST APIs", "garbage collection", "the Silk Road", "ocean currents", "game theory", "the Krebs cycle",
    "urban gardening", "electric cars", "the printing press", "cognitive behavioral therapy", "index funds",
    "the Big Bang", "the TCP handshake", "linear regression", "the Great Depression", "coral reefs",
    "Bayesian statistics", "the Industrial Revolution", "DNA replication", "sorting algorithms",
    "the Fibonacci sequence", "mindfulness meditation", "supply chains", "the Mongol Empire", "CRISPR",
    "solar panels", "the placebo effect", "microservices", "the American Civil War", "opportunity cost",
    "exoplanets", "baroque music", "the nitrogen cycle", "password managers", "the Treaty of Versailles",
    "marathon training", "carbon taxes", "dark matter", "hash tables", "the Ottoman Empire", "nuclear fusion",
    "the Doppler effect", "object-oriented programming", "minimum wage laws", "bird migration",
    "the Magna Carta", "tidal energy", "probability distributions", "the Apollo program",
    "antibiotic resistance", "version control with git", "the Harlem Renaissance", "monetary policy",
    "rainforest ecosystems", "regular expressions", "the Meiji Restoration", "gradient descent",
    "the periodic table", "small business loans", "jazz improvisation", "the greenhouse effect",
    "graph databases", "ancient Egyptian religion", "remote work", "the speed of light",
)
FORMS = ("short story", "poem", "haiku", "limerick", "blog post", "product description", "cover letter",
         "tweet", "speech", "news headline", "dialogue", "essay outline", "song chorus", "lesson plan",
         "movie synopsis", "press release", "job posting", "thank-you note", "marketing email", "riddle")
AUDIENCES = ("a ten-year-old", "a high school student", "a software engineer", "my grandmother",
             "a first-year medical student", "a non-technical manager", "a curious teenager", "an investor",
             "a new employee", "someone who has never heard of it", "a history teacher", "a small business owner")
QUALIFIERS = ("in simple terms", "in under 100 words", "with a concrete example", "step by step",
              "in three bullet points", "as a table", "briefly", "in detail", "without jargon",
              "using an analogy", "for a beginner", "like I'm five", "with pros and cons")
ADJECTIVES = ("formal", "concise", "persuasive", "friendly", "humorous", "professional", "engaging", "neutral",
              "optimistic", "clear", "polite", "dramatic", "casual", "academic")
PLURALS = ("healthy breakfast ideas", "team-building activities", "ways to save energy at home",
           "interview questions", "names for a pet turtle", "fun facts about octopuses",
           "reasons to learn a second language", "common logical fallacies", "productivity tips",
           "famous inventors", "uses for baking soda", "renewable energy sources", "board games for families",
           "signs of burnout", "slogans for a coffee shop", "questions to ask a landlord", "examples of irony",
           "strategies for negotiating a salary", "weekend hobbies", "ways to reduce plastic waste",
           "icebreaker questions", "budget travel tips", "houseplants that need little light",
           "metaphors for change", "birthday party themes")
LANGS = ("French", "Spanish", "German", "Italian", "Japanese", "Portuguese", "Chinese", "Russian")
NUMS = ("three", "four", "five", "six", "seven", "ten")
ORDINALS = ("first", "second", "third", "last")
PERSONS = ("a teacher", "a student", "a detective", "a chef", "a robot", "a pirate", "a doctor", "a tourist",
           "a farmer", "an astronaut", "a librarian", "a lawyer")
STYLES = ("a nature documentary", "Shakespeare", "a sports commentator", "a children's book", "a news report",
          "a noir detective novel", "a cooking show", "an instruction manual")
HOWTOS = ("changing a flat bicycle tire", "setting up a home Wi-Fi network", "brewing pour-over coffee",
          "writing a cover letter", "planting tomatoes", "preparing for a job interview", "cleaning a laptop keyboard",
          "making a monthly budget", "learning to juggle", "painting a room", "backing up a phone",
          "training for a 5k run", "filing a tax return", "tying a bowline knot")
CODE_TASKS = ("checks whether a string is a palindrome", "returns the n-th Fibonacci number",
              "merges two sorted lists", "counts the words in a text file",
              "removes duplicates from a list while keeping the order", "parses an ISO date string",
              "computes the median of a list of numbers", "validates an email address", "flattens a nested list",
              "finds the longest common prefix of a list of strings", "reverses the words in a sentence",
              "groups a list of records by a key", "converts Roman numerals to integers",
              "checks whether two strings are anagrams", "finds all prime numbers below n")
SQL_TASKS = ("returns the ten customers with the highest total order value",
             "counts the orders placed in each month of 2023", "finds employees who earn more than their manager",
             "lists products that have never been ordered", "computes the average rating of each book",
             "finds duplicate email addresses in the users table")
OBJECT_NOUNS = ("apple", "hammer", "violin", "carrot", "sparrow", "granite", "tulip", "laptop", "salmon", "oak",
                "trumpet", "spinach", "eagle", "marble", "bicycle", "copper", "shark", "daisy", "drill", "banana")
PLACES = ("Lisbon", "Kyoto", "Mexico City", "Edinburgh", "Cape Town", "Hanoi", "Vancouver", "Istanbul",
          "Buenos Aires", "Prague", "Marrakesh", "Seoul")
DISHES = ("lasagna", "pad thai", "banana bread", "chicken curry", "pancakes", "vegetable soup", "tacos",
          "brownies", "risotto", "falafel")
INGREDIENTS = ("eggs", "gluten", "dairy", "sugar", "an oven", "nuts", "garlic", "meat")
RELATIONS = ("boss", "landlord", "teacher", "team", "neighbor", "professor", "client", "sister", "coworker")
EVENTS = ("a missed deadline", "the project delay", "my vacation days", "a broken heater", "next week's meeting",
          "the budget cuts", "a refund", "my resignation", "the noise at night", "a schedule change")
PERSONAS = ("a nurse", "a college student", "a new manager", "a freelance designer", "a retired teacher",
            "a single dad", "a junior developer", "a small bakery owner", "an exchange student")
GOALS = ("learn Python in a month", "save money for a house", "get better at public speaking",
         "organize my week", "pass a statistics exam", "start running again", "write my first novel",
         "switch careers into data analysis", "improve my sleep")
GADGETS = ("laptop", "car", "dishwasher", "phone", "printer", "router", "bike chain", "sourdough starter")
PROBLEMS = ("shutting down randomly", "making a weird noise", "losing connection", "running out of battery",
            "getting very hot", "showing an error on startup", "smelling strange")
ERRORS = ("TypeError: 'NoneType' object is not iterable", "IndexError: list index out of range", "KeyError: 'id'",
          "SyntaxError: invalid syntax", "an empty output", "an infinite loop", "the wrong total")
SUBJECTS = ("The main idea", "This approach", "A common mistake", "In practice, the first step", "One useful trick",
            "The key difference", "Each part of the process", "A good rule of thumb", "The most important factor",
            "Historically, this idea", "For most people, the hardest part", "A simple way to see it",
            "The underlying mechanism", "An experienced practitioner", "The usual recommendation",
            "The standard explanation", "Another perspective", "The short answer", "A typical example",
            "The long-term effect", "The first thing to notice", "What matters most", "The resulting pattern",
            "A frequent source of confusion", "The basic principle", "Modern research", "A well-designed plan",
            "The final result", "A practical consequence", "This step")
VERBS = ("depends on", "is closely related to", "helps explain", "can be improved by", "usually starts with",
         "is often confused with", "makes it easier to understand", "requires careful attention to",
         "builds directly on", "should be weighed against", "tends to amplify", "is limited mainly by",
         "can be summarized as", "works best together with", "reduces the impact of", "comes down to",
         "is shaped by", "draws attention to", "leads naturally to", "is easy to overlook in",
         "becomes clearer when you consider", "has a strong effect on", "rarely works without",
         "is a direct response to", "highlights the role of")
OBJECTS = ("the underlying assumptions", "the order in which things happen", "how the data is collected",
           "the cost of each option", "the context in which it is used", "the people involved",
           "the available resources", "small changes over time", "the balance between speed and accuracy",
           "a clear definition of the goal", "the feedback you receive", "the constraints of the system",
           "the way energy moves through it", "the incentives on each side", "the quality of the inputs",
           "the structure of the problem", "what happened before", "the limits of the model",
           "the interaction between its parts", "the scale of the effect", "a few simple habits",
           "the choices made early on", "long-term consequences", "the surrounding environment",
           "the evidence available")
TAILS = ("", "", "", ", especially for beginners", " in most real-world cases", ", so it is worth checking twice",
         " when time is limited", ", as the example shows", " more than people expect",
         ", at least in the short term", " in almost every situation", ", which is why experts disagree",
         " if you look closely", ", according to most textbooks", " once you have some practice")
NAMES = ("Maria", "John", "Aiko", "Carlos", "Fatima", "Liam", "Priya", "Olga", "Chen", "Amara", "Noah", "Sofia",
         "Ivan", "Leila", "Mateo", "Hannah", "Kwame", "Elena", "Yusuf", "Grace")
SURNAMES = ("Garcia", "Smith", "Tanaka", "Okafor", "Novak", "Patel", "Kowalski", "Haddad", "Lindqvist", "Moreau")
PAST_VERBS = ("bought", "repaired", "painted", "forgot", "found", "sold", "borrowed", "delivered", "cooked", "lost",
              "returned", "ordered", "cleaned", "designed", "photographed")
THINGS = ("old bicycle", "red umbrella", "laptop", "birthday cake", "garden fence", "train ticket", "wooden chair",
          "library book", "guitar", "phone charger", "winter coat", "coffee machine", "paper map",
          "blue notebook", "kitchen table")
WHEN = ("at the market", "before the meeting", "in the rain", "on Sunday morning", "after school",
        "near the station", "during the storm", "at the last minute", "for her sister", "without telling anyone",
        "two days ago", "on the way home")
INTROS = ("Sure! Here is an overview of {topic}.", "Great question. {Topic} is easier to understand in parts.",
          "Here's a clear explanation of {topic}.", "Certainly. Let's look at {topic} from a practical angle.",
          "{Topic} can be explained in a few steps.", "Good question! Let me walk you through {topic}.",
          "Here is what you need to know about {topic}.", "Absolutely. {Topic} comes up a lot, so here goes.")
CLOSERS = ("Let me know if you'd like more detail on any of these points.", "I hope this helps!", "", "", "",
           "In short, {topic} rewards a careful, step-by-step approach.", "Would you like an example as well?")
CODE_TEMPLATES = (
    "def {fn}({arg}):\n    result = []\n    for item in {arg}:\n        if item {op} {k}:\n"
    "            result.append(item * {k2})\n    return result",
    "def {fn}({arg}):\n    seen = set()\n    out = []\n    for x in {arg}:\n        if x not in seen:\n"
    "            seen.add(x)\n            out.append(x)\n    return out",
    "def {fn}({arg}, k={k}):\n    counts = {{}}\n    for x in {arg}:\n        counts[x] = counts.get(x, 0) + 1\n"
    "    return sorted(counts, key=counts.get, reverse=True)[:k]",
    "import csv\n\ndef {fn}(path):\n    with open(path, newline='') as fh:\n        rows = list(csv.DictReader(fh))\n"
    "    return [r for r in rows if int(r['{col}']) {op} {k}]",
    "def {fn}({arg}):\n    lo, hi = 0, len({arg}) - 1\n    while lo <= hi:\n        mid = (lo + hi) // 2\n"
    "        if {arg}[mid] {op} {k}:\n            lo = mid + 1\n        else:\n            hi = mid - 1\n    return lo",
)
SQL_TEMPLATE = ("SELECT {col}, SUM(amount) AS total\nFROM orders\nWHERE created_at >= '2024-0{k}-01'\n"
                "GROUP BY {col}\nORDER BY total DESC\nLIMIT {k2};")
FNAMES = ("solve", "process_items", "find_pairs", "normalize", "merge_intervals", "count_words", "parse_record",
          "rolling_mean", "top_k", "is_valid", "clean_rows", "dedupe")
ARGS = ("items", "values", "nums", "records", "data", "words")
COLS = ("customer_id", "region", "age", "score", "quantity", "user_id")
OPS = (">", "<", ">=", "<=", "==", "!=")

HARVEST_TEMPLATES = (   # (instruction, kind of input it takes or "")
    ("Generate a list of {num} {plural} for {audience}.", ""),
    ("Write a {form} about {topic}.", ""),
    ("Explain {topic} to {audience}.", ""),
    ("Rewrite the following sentence to make it more {adj}.", "sentence"),
    ("Summarize the following paragraph in {num} sentences.", "paragraph"),
    ("Translate the following sentence into {lang}.", "sentence"),
    ("Give {num} examples of {plural} and explain each in one sentence.", ""),
    ("Compare and contrast {topic} and {topic2}.", ""),
    ("Describe the relationship between {topic} and {topic2}.", ""),
    ("Identify the main idea of the following text.", "paragraph"),
    ("Write a Python function named {fn} that {code_task}.", ""),
    ("Create a {form} that mentions {topic}.", ""),
    ("What are the main advantages and disadvantages of {topic}?", ""),
    ("Edit the following sentence for grammar and clarity.", "sentence"),
    ("Suggest {num} {adj} titles for an article about {topic}.", ""),
    ("Find the sum of {n1} and {n2}.", ""),
    ("Convert {n1} degrees Fahrenheit to Celsius.", ""),
    ("Analyze the tone of the following text.", "paragraph"),
    ("Write a SQL query on the {col} column that {sql_task}.", ""),
    ("Provide a step-by-step guide to {howto}.", ""),
    ("Explain why {topic} matters to {audience}.", ""),
    ("Generate a multiple-choice question about {topic}.", ""),
    ("Write a dialogue between {person} and {person2} about {topic}.", ""),
    ("Categorize the following items into groups: {items}.", ""),
    ("Name {num} important facts about {topic}.", ""),
    ("Write the opening paragraph of a {form} about {topic}.", ""),
    ("Describe {topic} in the style of {style}.", ""),
    ("Classify the following sentence as a fact or an opinion.", "sentence"),
    ("Find the error in the following code and fix it.", "code"),
    ("Come up with a {adj} slogan for a company that sells {plural}.", ""),
)
HARVEST_SUFFIXES = ("", "", " Keep it {qualifier}.", " Make it suitable for {audience}.", " Use a {adj} tone.",
                    " Limit your answer to {n1} words.", " Include at least {num} examples.",
                    " Mention {topic2} if it is relevant.", " Format the answer as {fmt}.")
HUMAN_FORMS = (   # (weight, template)
    (3, "What is {topic}?"), (3, "how does {topic} work"), (2, "Why is {topic} important?"),
    (3, "Can you explain {topic} {qualifier}?"), (2, "What's the difference between {topic} and {topic2}?"),
    (2, "explain {topic} to {audience}"), (2, "what are some {plural}"), (1, "ELI5: {topic}"),
    (3, "I'm {persona} and I want to {goal}. Any advice?"), (2, "My {gadget} keeps {problem}. What should I do?"),
    (2, "Help me plan a {ndays}-day trip to {place}."), (2, "Give me a recipe for {dish} without {ingredient}."),
    (2, "Write an email to my {relation} about {event}."), (1, "write a {adj} {form} for my {relation}"),
    (2, "Write a {form} about {topic}."), (1, "Can you give me {num} {plural}?"),
    (1, "How do I get started with {topic}? I have about {n1} minutes a day."),
    (2, "Summarize this for me:\n\n{paragraph}"),
    (2, "Can you fix this code?\n\n```python\n{code}\n```\n\nI get {error}"),
    (1, "Make this sound more {adj}: {sentence}"), (1, "Translate to {lang}: {sentence}"),
    (1, "is it worth learning about {topic} in 2025?"), (1, "{topic} vs {topic2} - which one should I focus on?"),
)
FOLLOWUPS = ("Thanks! Can you make it shorter?", "Can you give me a concrete example?", "What about {topic}?",
             "ok, and how does that relate to {topic}?", "Please rewrite that in a more {adj} tone.",
             "Could you explain the {ordinal} point in more detail?",
             "That's not quite what I meant. I was asking about {topic}.", "Great, now turn that into a {form}.",
             "can you translate that into {lang}", "Summarize everything so far in {num} bullet points.",
             "why?", "Thanks, that helps. One more question: how does {topic} fit in?")
CHAT_SYSTEMS = ("", "You are a helpful assistant.", "You are ChatBuddy, a friendly assistant for our customers.",
                "You are a patient tutor. Explain things clearly.")
REQUIREMENTS = ("Use no more than 300 words.", "Include at least one concrete example.", "Write in a {adj} tone.",
                "Use Markdown headings.", "End with a one-sentence summary.", "Do not use bullet points.",
                "Mention at least two historical facts.", "Avoid technical jargon.", "Answer in {num} paragraphs.")
MCQ_SUBJECTS = ("high school biology", "world history", "microeconomics", "computer science", "physics",
                "philosophy", "nutrition", "astronomy", "statistics", "law")

ZH_TOPICS = ("光合作用", "机器学习", "通货膨胀", "区块链", "量子计算", "气候变化", "中国历史", "股票市场",
             "人工智能", "健康饮食")
ZH_FORMS = ("请解释一下{t}。", "{t}是什么？请用简单的话说明。", "帮我写一篇关于{t}的短文。", "{t}有哪些优点和缺点？",
            "如何学习{t}？给我一些建议。", "用三个要点总结{t}。")
ZH_S = ("这个概念", "在实际应用中，它", "很多人认为它", "从历史上看，它", "简单来说，它", "研究表明，它",
        "对于初学者来说，它")
ZH_P = ("与日常生活密切相关", "需要结合具体情况来理解", "可以分为几个重要的部分", "在过去几十年里发展很快",
        "并不难掌握", "经常被误解", "影响着许多行业")
ZH_T = ("。", "，值得深入了解。", "，因此需要认真对待。", "。")
RU_TOPICS = ("фотосинтез", "машинное обучение", "инфляция", "блокчейн", "квантовые компьютеры", "изменение климата",
             "история России", "фондовый рынок", "искусственный интеллект", "здоровое питание")
RU_FORMS = ("Объясни простыми словами тему «{t}».", "Напиши короткое эссе на тему «{t}».",
            "Какие плюсы и минусы у темы «{t}»?", "Что нужно знать новичку о теме «{t}»?",
            "Помоги разобраться в теме «{t}», пожалуйста.")
RU_S = ("Эта тема", "На практике это", "Многие считают, что это", "Исторически это", "Проще говоря, это",
        "Исследования показывают, что это")
RU_P = ("тесно связано с повседневной жизнью", "требует внимательного подхода", "состоит из нескольких важных частей",
        "быстро развивалось в последние десятилетия", "не так сложно, как кажется", "часто понимают неправильно")
RU_T = (".", ", и об этом стоит помнить.", ", особенно для начинающих.", ".")
ES_TOPICS = ("la fotosíntesis", "la inflación", "la inteligencia artificial", "la Revolución Francesa",
             "la bolsa de valores", "la dieta mediterránea", "los agujeros negros", "las energías renovables",
             "la teoría de la evolución", "la economía circular")
ES_FORMS = ("¿Puedes explicarme {t}?", "Escribe un texto corto sobre {t}.",
            "¿Cuáles son las ventajas y desventajas de {t}?", "Explícame {t} como si tuviera diez años.",
            "Dame tres datos curiosos sobre {t}.")
ES_S = ("Este tema", "En la práctica, esto", "Mucha gente piensa que esto", "Históricamente, esto",
        "En pocas palabras, esto", "Los estudios muestran que esto")
ES_P = ("está muy relacionado con la vida diaria", "requiere un enfoque cuidadoso", "tiene varias partes importantes",
        "ha cambiado mucho en las últimas décadas", "no es tan difícil como parece", "se malinterpreta a menudo")
ES_T = (".", ", y conviene recordarlo.", ", sobre todo para principiantes.", ".")

# Wrappers harvesting scripts put around each item ({task}: instruction and input together).
ALPACA = ("Below is an instruction that describes a task, paired with an input that provides further context. "
          "Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n"
          "### Input:\n{input}\n\n### Response:")
ALPACA_NO_INPUT = ("Below is an instruction that describes a task. Write a response that appropriately completes "
                   "the request.\n\n### Instruction:\n{instruction}\n\n### Response:")
BULK_WRAPPERS = (ALPACA, "### Human: {task}\n### Assistant:",
                 "Answer the following request as thoroughly as possible.\n\nRequest: {task}\n\nAnswer:")
COT_WRAPPERS = ("Think step by step and show your complete reasoning before you give the final answer.\n\n"
                "Task: {instruction}\n{input}",
                "You are a world-class expert. Answer the request below in full detail. First explain your chain "
                "of thought, then state the answer.\n\nRequest: {task}",
                "{task}\n\nLet's think step by step.")
PROBE_WRAPPERS = ("{task}", ALPACA)

# Integration templates: (family, prompt with {item}) and how items and answers are made.
INTEGRATION_FAMILIES = (
    ("sentiment", ("Classify the sentiment of the following {product} review as positive, negative or neutral."
                   "\n\nReview: {item}\n\nSentiment:",
                   "Review: {item}\nIs this {product} review positive, negative or neutral? Answer with one word.")),
    ("routing", ("Route this support ticket to one of: billing, technical, account, shipping. Reply with the team "
                 "name only.\n\nTicket: {item}",
                 "You triage tickets for {company}. Which team should handle this? Options: billing, technical, "
                 "account, shipping.\n\n{item}\n\nTeam:")),
    ("extract", ("Extract the customer name and order number from the message below. Return JSON with keys "
                 "\"name\" and \"order\".\n\nMessage: {item}",)),
    ("translate", ("Translate this product title into {lang3}. Output only the translation.\n\n{item}",)),
    ("spam", ("Is the following message spam? Answer yes or no.\n\nMessage: {item}",
              "{company} inbox filter. Message:\n{item}\n\nSpam (yes/no):")),
    ("summary", ("Summarize this customer conversation in one sentence.\n\n{item}",)),
    ("tags", ("Suggest up to three comma-separated tags for this article title: {item}",)),
)
PRODUCT_KINDS = ("headphones", "blender", "running shoes", "phone case", "desk lamp", "backpack", "coffee grinder")
COMPANIES = ("Acme Outdoor", "Northwind Books", "Bluebird Telecom", "Pinecone Games", "Helios Energy", "Tidal Foods")
REVIEW_OPEN = ("I bought this", "We have used this", "Got this", "Ordered this", "My husband bought this",
               "Second time buying this", "I received this", "Picked this up")
REVIEW_WHEN = ("last month", "for my daughter", "on sale", "two weeks ago", "as a gift", "for the office", "")
REVIEW_MID = ("and it stopped working after a week", "and it works exactly as described",
              "and the battery life is amazing", "but the instructions were useless", "and honestly it's just okay",
              "and it arrived with a cracked case", "and I would buy it again", "but shipping took forever",
              "and it does the job", "and the quality is much better than expected", "and it is way too loud",
              "and customer service was very helpful")
REVIEW_END = (".", "!", ". 5 stars.", ". Not worth the price.", ". Meh.", "", " :)")
TICKET_ISSUES = (   # (what the customer writes, what a summary calls it, the team that handles it)
    ("was charged twice for the subscription", "a double charge", "billing"),
    ("can't log in to my account", "a login problem", "account"),
    ("never received my package", "a missing package", "shipping"),
    ("need to change my billing address", "a billing address change", "billing"),
    ("see an error when I upload files", "an upload error", "technical"),
    ("forgot my password", "a forgotten password", "account"),
    ("got the wrong size", "a wrong-size delivery", "shipping"),
    ("want to cancel my plan", "a cancellation", "account"),
    ("was promised a discount that never showed up", "a missing discount", "billing"),
    ("can't download my invoice", "an invoice download problem", "technical"),
    ("keep getting logged out of the app", "repeated logouts", "technical"),
)
TICKET_ASKS = ("Can you help?", "Please fix this asap.", "What should I do?", "Thanks.",
               "This is the third time I'm writing.", "Any update?", "")
SPAM = ("Congratulations! You have won a {prize}. Click {url} to claim it now!",
        "URGENT: your account will be suspended. Verify your details at {url}",
        "Earn $5000 a week from home, no experience needed!!! Reply YES",
        "Your parcel is waiting. Pay the {n1} cent customs fee at {url}",
        "Limited offer: {prize} for only $1. Visit {url}")
PRIZES = ("free cruise", "new iPhone", "$1000 gift card", "luxury watch", "lifetime subscription")
URLS = ("bit.ly/xq{n1}", "claim-now.example.com", "secure-verify.example.net", "win{n1}.example.org")
PRODUCT_TITLES = (   # English, Spanish, German, French
    ("stainless steel water bottle", "botella de agua de acero inoxidable", "Edelstahl-Trinkflasche",
     "bouteille d'eau en acier inoxydable"),
    ("wireless noise-cancelling headphones", "auriculares inalámbricos con cancelación de ruido",
     "kabellose Kopfhörer mit Geräuschunterdrückung", "casque sans fil à réduction de bruit"),
    ("cotton crew-neck T-shirt", "camiseta de algodón de cuello redondo", "Baumwoll-T-Shirt mit Rundhalsausschnitt",
     "T-shirt col rond en coton"),
    ("non-stick frying pan", "sartén antiadherente", "antihaftbeschichtete Bratpfanne", "poêle antiadhésive"),
    ("leather laptop sleeve", "funda de cuero para portátil", "Laptophülle aus Leder",
     "housse en cuir pour ordinateur"),
    ("LED desk lamp", "lámpara de escritorio LED", "LED-Schreibtischlampe", "lampe de bureau LED"),
)
COLOURS = (("black", "negro", "schwarz", "noir"), ("white", "blanco", "weiß", "blanc"),
           ("blue", "azul", "blau", "bleu"), ("red", "rojo", "rot", "rouge"), ("green", "verde", "grün", "vert"))
TAG_WORDS = ("science", "history", "finance", "technology", "health", "lifestyle", "education", "travel",
             "business", "culture")
TITLE_FORMS = ("Why {topic} matters more than ever", "A beginner's guide to {topic}",
               "{Num} things nobody tells you about {topic}", "How {topic} is changing the way we live",
               "The surprising history of {topic}", "{Topic}: myths and facts")


# --------------------------------------------------------------------------- text
# fmt: on
