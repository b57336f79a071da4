"""The demo organisation's vocabulary: departments, job titles, courses, integrations.

People's names are in :mod:`app.demo.organisation.person_names`.
"""

from __future__ import annotations

# (department, share of staff, ((job title, share), ...)); the last title manages the others.
DEPARTMENTS: tuple[tuple[str, float, tuple[tuple[str, float], ...]], ...] = (
    (
        "Engineering",
        0.22,
        (
            ("Software Engineer", 0.45),
            ("Senior Software Engineer", 0.25),
            ("QA Engineer", 0.12),
            ("Site Reliability Engineer", 0.08),
            ("Engineering Manager", 0.10),
        ),
    ),
    (
        "Sales",
        0.16,
        (
            ("Account Executive", 0.45),
            ("Sales Development Representative", 0.25),
            ("Sales Operations Analyst", 0.18),
            ("Sales Manager", 0.12),
        ),
    ),
    (
        "Customer Support",
        0.14,
        (
            ("Support Specialist", 0.6),
            ("Senior Support Specialist", 0.28),
            ("Support Manager", 0.12),
        ),
    ),
    (
        "Operations",
        0.14,
        (
            ("Warehouse Associate", 0.5),
            ("Logistics Coordinator", 0.25),
            ("Facilities Technician", 0.13),
            ("Operations Manager", 0.12),
        ),
    ),
    (
        "Finance",
        0.08,
        (
            ("Accountant", 0.45),
            ("Financial Analyst", 0.3),
            ("Payroll Specialist", 0.13),
            ("Finance Manager", 0.12),
        ),
    ),
    (
        "Marketing",
        0.09,
        (
            ("Marketing Specialist", 0.45),
            ("Content Designer", 0.25),
            ("Marketing Analyst", 0.18),
            ("Marketing Manager", 0.12),
        ),
    ),
    (
        "Human Resources",
        0.11,
        (
            ("HR Generalist", 0.4),
            ("Recruiter", 0.25),
            ("Learning and Development Specialist", 0.23),
            ("HR Manager", 0.12),
        ),
    ),
    (
        "Legal",
        0.06,
        (
            ("Counsel", 0.5),
            ("Paralegal", 0.25),
            ("Compliance Officer", 0.13),
            ("Legal Manager", 0.12),
        ),
    ),
)
LD_TITLE = "Learning and Development Specialist"

# (title, due_days) for courses every employee must take again each year (on the hire anniversary).
COMPANY_COMPLIANCE = (
    ("Code of Conduct", 30),
    ("Data Protection and Privacy", 60),
    ("Information Security Awareness", 30),
    ("Anti-Bribery and Corruption", 60),
    ("Workplace Health and Safety", 45),
    ("Harassment Prevention", 90),
)
# (title, department, job title or None, due_days)
DEPARTMENT_COMPLIANCE = (
    ("Secure Coding Standards", "Engineering", None, 60),
    ("Competition Law for Sales", "Sales", None, 45),
    ("Customer Data Handling", "Customer Support", None, 30),
    ("Forklift and Warehouse Safety", "Operations", "Warehouse Associate", 30),
    ("Anti-Money Laundering", "Finance", None, 60),
    ("SOX Controls", "Finance", "Accountant", 90),
    ("Handling Employee Records", "Human Resources", None, 45),
    ("Export Controls", "Legal", None, 90),
)
ELECTIVE_TOPICS = (
    "Excel",
    "Effective Presentations",
    "Python",
    "SQL",
    "Negotiation",
    "Time Management",
    "Project Management",
    "Agile Delivery",
    "Customer Empathy",
    "Business Writing",
    "Data Visualisation",
    "Public Speaking",
    "Coaching",
    "Conflict Resolution",
    "Cloud Architecture",
    "Machine Learning",
    "Product Discovery",
    "Financial Modelling",
    "Accessibility",
    "UX Research",
    "Storytelling with Data",
    "Kubernetes",
    "Lean Operations",
    "Change Management",
    "Giving Feedback",
    "Design Thinking",
    "Statistics",
    "Contract Basics",
    "Budgeting",
    "Wellbeing at Work",
)
ELECTIVE_LEVELS = ("Foundations", "in Practice", "Advanced", "Workshop", "Masterclass", "Clinic")
ARCHIVED_COURSES = (
    "Legacy Security Basics",
    "Lotus Notes for Beginners",
    "Old Expense Tool Training",
    "2019 Benefits Enrolment",
)
EMAIL_DOMAIN = "northwind-learning.example"

# Integrations: (name, interval hours, first start offset hours within a day, records per run base).
INTEGRATIONS: tuple[tuple[str, int, float, float], ...] = (
    ("hr_to_lms", 24, 2.0, 0.02),
    ("lms_to_analytics", 1, 0.08, 0.004),
    ("lms_to_crm", 6, 0.25, 0.01),
    ("sso_directory", 12, 3.5, 0.015),
)
